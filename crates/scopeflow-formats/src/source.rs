use std::path::Path;

use scopeflow_core::{Axis, ImageMeta};

use crate::FormatError;

/// A readable image: cheap to open, reads pixels one bounded band at a time.
///
/// Planes are indexed by `ImageMeta::plane_axes()` (every axis but Y, X and S, in file order).
pub trait ImageSource: Send + Sync {
    fn meta(&self) -> &ImageMeta;
    fn path(&self) -> &Path;
    /// Rows per stored strip or tile: bands that are multiples of it decode each chunk once.
    fn natural_rows(&self) -> usize;
    /// A reader for one plane. It may keep the last decoded strip or row of tiles, so callers
    /// should read a plane top to bottom through one reader.
    ///
    /// # Errors
    /// The plane index is out of range or the plane's storage is unreadable.
    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError>;

    /// Pixels of rows `y0..y1` of one plane, as little-endian bytes (samples interleaved).
    ///
    /// # Errors
    /// As [`PlaneReader::read_rows`].
    fn read_rows(
        &self,
        plane: &[usize],
        y0: usize,
        y1: usize,
        out: &mut [u8],
    ) -> Result<(), FormatError> {
        self.plane_reader(plane)?.read_rows(y0, y1, out)
    }
}

/// Reads bands of rows of one plane.
pub trait PlaneReader {
    /// Fills `out` (exactly `(y1 - y0) * width * samples * dtype size` bytes) with rows
    /// `y0..y1` as little-endian bytes.
    ///
    /// # Errors
    /// The stored data is truncated, corrupt or uses an unsupported codec.
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError>;
}

/// Number of planes of `meta`.
pub fn plane_count(meta: &ImageMeta) -> usize {
    meta.plane_axes()
        .iter()
        .map(|&a| meta.axis_len(a).unwrap_or(1))
        .product()
}

/// The multi-index (over `plane_axes`, C order) of linear plane number `n`.
pub fn plane_index(meta: &ImageMeta, mut n: usize) -> Vec<usize> {
    let dims: Vec<usize> = meta
        .plane_axes()
        .iter()
        .map(|&a| meta.axis_len(a).unwrap_or(1))
        .collect();
    let mut idx = vec![0; dims.len()];
    for (i, &d) in dims.iter().enumerate().rev() {
        idx[i] = n % d;
        n /= d;
    }
    idx
}

/// The T, C and Z indices of a plane index over `meta.plane_axes()`, checked against the
/// image, for readers that address their storage by those three.
pub(crate) fn plane_tcz(
    meta: &ImageMeta,
    path: &Path,
    plane: &[usize],
) -> Result<(usize, usize, usize), FormatError> {
    let usage = |what: String| FormatError::Usage {
        path: path.to_path_buf(),
        what,
    };
    let axes = meta.plane_axes();
    if plane.len() != axes.len() {
        return Err(usage(format!(
            "plane index {plane:?} has {} values, the image has {} plane axes",
            plane.len(),
            axes.len()
        )));
    }
    let (mut t, mut c, mut z) = (0, 0, 0);
    for (&axis, &i) in axes.iter().zip(plane) {
        if i >= meta.axis_len(axis).unwrap_or(1) {
            return Err(usage(format!("plane index {plane:?} is out of range")));
        }
        match axis {
            Axis::T => t = i,
            Axis::C => c = i,
            Axis::Z => z = i,
            other => return Err(usage(format!("plane axis {other:?} is not read here"))),
        }
    }
    Ok((t, c, z))
}
