//! Benchmarks live in the scripts beside this crate; see BENCHMARKS.md.
