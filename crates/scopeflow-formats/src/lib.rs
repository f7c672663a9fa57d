//! Image readers behind one trait, [`ImageSource`], one folder per format family.
//!
//! Invariants every reader keeps:
//! - the format is decided by magic bytes ([`detect`]), never by the file extension;
//! - pixels are read one band of rows of one plane at a time, so memory stays bounded by the
//!   band (and at most one decoded strip, tile row or stored block), whatever the file size;
//! - the source file is opened read-only and never modified;
//! - bad input is an error that names the file and the cause, never a panic;
//! - a file holding several image series (OME-TIFF images, CZI scenes, LIF images, ND2
//!   positions) lists them all in `ImageMeta::series`, and [`open_series`] opens any of them.

mod alloc;
mod czi;
mod detect;
mod error;
mod imaris;
mod lif;
mod nd2;
mod positional;
mod raster;
mod source;
mod tiff;
pub mod units;
mod xml;

pub mod conformance;

pub use alloc::{reserved, resize_zeroed, zeroed};
pub use detect::{Format, detect};
pub use error::FormatError;
pub use source::{ImageSource, PlaneReader, plane_count, plane_index};
pub use tiff::{imagej, metamorph, ome};

use std::path::Path;

/// Opens the first series of `path` with the reader its magic bytes call for.
///
/// # Errors
/// The file cannot be read, its format is not supported, or its structure is corrupt.
pub fn open(path: &Path) -> Result<Box<dyn ImageSource>, FormatError> {
    open_series(path, 0)
}

/// Opens series `series` (0-based, as listed in `ImageMeta::series`) of `path`.
///
/// # Errors
/// As [`open`], or the file has no such series.
pub fn open_series(path: &Path, series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    match detect(path)? {
        Format::Tiff { big } => Ok(Box::new(tiff::TiffSource::open_series(path, big, series)?)),
        Format::Czi => czi::open(path, series),
        Format::Hdf5 => imaris::open(path, series),
        Format::Lif => lif::open(path, series),
        Format::Nd2 => nd2::open(path, series),
        Format::Png | Format::Jpeg | Format::Bmp => raster::open(path, series),
        other => Err(unsupported_format(path, other)),
    }
}

/// The error for a file whose format this build does not read.
pub(crate) fn unsupported_format(path: &Path, format: Format) -> FormatError {
    FormatError::UnsupportedFormat {
        path: path.to_path_buf(),
        what: format.describe(),
    }
}

/// The error for a series index past the end of a file's series list.
pub(crate) fn no_such_series(path: &Path, series: usize, count: usize) -> FormatError {
    FormatError::Usage {
        path: path.to_path_buf(),
        what: format!(
            "no series {series}: the file holds {count} (0 to {})",
            count.saturating_sub(1)
        ),
    }
}
