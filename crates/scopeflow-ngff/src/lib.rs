//! OME-Zarr (NGFF 0.5 / Zarr v3, or 0.4 / Zarr v2) writer.
//!
//! One pass over the source, by bands of rows: each band feeds the QC accumulators, is cut
//! into chunks compressed in parallel, and is averaged 2×2 into the next level's band, which
//! flushes when full. Memory is O(threads × band × levels), whatever the file size; the raw
//! file is hashed by a sequential reader alongside. The output is written under a temporary
//! name beside OUTPUT and renamed into place only when complete; on failure nothing is left.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod budget;
mod container;
mod error;
mod fsstore;
mod hash;
mod metadata;
mod options;
mod pass;
mod plan;
mod publish;
mod pyramid;
mod store;
mod thumbnail;

pub use container::{
    FileReport, SeriesChoice, SeriesQc, SeriesReport, convert_file, measure_qc_file, planned_bytes,
    qc_document,
};
pub use error::ConvertError;
pub use fsstore::{FileDigests, sync_tree};
pub use hash::sha256_file;
pub use options::{Codec, ConvertOptions, Levels, NgffVersion};
pub use pass::{ConvertReport, convert, measure_qc};
pub use thumbnail::{MAX_SIDE as THUMBNAIL_MAX_SIDE, Thumbnail};
