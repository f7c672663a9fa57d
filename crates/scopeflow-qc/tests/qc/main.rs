//! Integration tests of the public accumulator API (one binary, to keep link time down).

mod fallback;
mod hand;
mod merge;
mod reference;
mod throughput;
mod util;
