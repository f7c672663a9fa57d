//! The RO-Crate 1.1 that describes a destination (`ro-crate-metadata.json` at its root): every
//! verified raw file with its OME-Zarr and QC document, who acquired it, what made the
//! derived files, and the dataset's licence and description. Built from the journal alone,
//! so it can be rewritten at any time and always says what the destination holds.

mod build;
mod entities;

pub use build::{CrateFile, CrateInput, CrateWriter, build, crate_facts, encode_id};

/// The file name the RO-Crate specification fixes; never listed in the manifest, since it
/// is rewritten as files arrive and `sha256sum -c` would then fail on it.
pub const ROCRATE_FILE: &str = "ro-crate-metadata.json";
