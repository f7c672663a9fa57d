//! Imaris 5.5 `.ims` files: HDF5 with a fixed group layout (`DataSet/ResolutionLevel r/
//! TimePoint t/Channel c/Data`, metadata in `DataSetInfo`), read through the C HDF5 library.
//!
//! The reader sits behind the `imaris` cargo feature because the C library cannot be found
//! by the Windows (MinGW) cross build; without it an `.ims` file is refused with a message
//! that says so, rather than being mistaken for an unknown format.

use std::path::Path;

use crate::{FormatError, ImageSource};

#[cfg(feature = "imaris")]
mod attrs;
#[cfg(feature = "imaris")]
mod direct;
#[cfg(feature = "imaris")]
mod layout;
#[cfg(feature = "imaris")]
mod meta;
#[cfg(feature = "imaris")]
mod reader;

/// Opens an Imaris file. It holds one series (full resolution; the other resolution levels
/// are a pyramid of the same image, not series of their own).
#[cfg(feature = "imaris")]
pub(crate) fn open(path: &Path, series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    let source = reader::ImarisSource::open(path)?;
    if series >= 1 {
        return Err(crate::no_such_series(path, series, 1));
    }
    Ok(Box::new(source))
}

/// Without HDF5 support, says so: the file may well be a valid Imaris file.
#[cfg(not(feature = "imaris"))]
pub(crate) fn open(path: &Path, _series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    Err(FormatError::UnsupportedFormat {
        path: path.to_path_buf(),
        what: "Imaris/HDF5 (this build has no HDF5 support: built without the `imaris` feature)"
            .into(),
    })
}
