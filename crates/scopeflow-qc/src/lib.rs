//! Streaming per-channel QC (saturation, Otsu threshold, SNR) that merges across threads.
//!
//! The figures must equal those of `shared/tools/make_samples.py` (its docstring and
//! `ChannelStats` are the definition), computed in one pass over files far larger than
//! memory, alongside compression. So every dtype keeps a histogram-like summary of bounded
//! size from which the exact definition can be evaluated at the end:
//!
//! | dtype    | kept per accumulator                                            | result          |
//! |----------|-----------------------------------------------------------------|-----------------|
//! | u8, i8   | 256 bins                                                        | exact           |
//! | u16, i16 | 65,536 bins: 1 MiB of hot-loop lanes, +512 KiB once merged into | exact           |
//! | u32, i32 | 65,536 bins for `0..65536` (512 KiB) + counts of other values   | exact below cap |
//! | f32, f64 | counts of distinct values                                       | exact below cap |
//!
//! Past [`DEFAULT_DISTINCT_CAP`] distinct values (≤ 8 MiB of counts), 32-bit and float
//! channels switch to a 24 MiB power-of-two grid (see `grid.rs`): means, stds, counts, min,
//! max and saturation stay exact up to rounding; only the threshold (and so which pixels are
//! background) becomes approximate, within a fraction of one of the definition's bins.
//!
//! Comparisons with the reference (`tests/fixtures/`) are to 1e-9 relative.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod accumulator;
mod count_map;
mod dense;
mod distinct;
mod float;
mod focus;
mod grid;
mod histogram;
mod otsu;
mod stats;
mod wide;

pub use accumulator::ChannelAccumulator;
pub use distinct::DEFAULT_DISTINCT_CAP;
pub use focus::PlaneFocus;
pub use histogram::HISTOGRAM_BINS;
