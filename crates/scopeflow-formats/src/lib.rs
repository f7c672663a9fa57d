//! Image readers behind one trait, [`ImageSource`].
//!
//! Invariants every reader keeps:
//! - the format is decided by magic bytes, never by the file extension;
//! - pixels are read one band of rows of one plane at a time, so memory stays bounded by the
//!   band (and at most one decoded strip or row of tiles), whatever the file size;
//! - the source file is opened read-only and never modified;
//! - bad input is an error that names the file and the cause, never a panic.

mod detect;
mod error;
pub mod imagej;
pub mod metamorph;
pub mod ome;
mod positional;
mod source;
mod tiff_reader;
pub mod units;

pub mod conformance;

pub use detect::{Format, detect};
pub use error::FormatError;
pub use source::{ImageSource, PlaneReader, plane_count, plane_index};

use std::path::Path;

/// Opens `path` with the reader its magic bytes call for.
///
/// # Errors
/// The file cannot be read, its format is not supported, or its structure is corrupt.
pub fn open(path: &Path) -> Result<Box<dyn ImageSource>, FormatError> {
    match detect(path)? {
        Format::Tiff { big } => Ok(Box::new(tiff_reader::TiffSource::open(path, big)?)),
        other => Err(FormatError::UnsupportedFormat {
            path: path.to_path_buf(),
            what: other.describe(),
        }),
    }
}
