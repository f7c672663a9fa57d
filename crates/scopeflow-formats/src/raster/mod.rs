//! PNG, JPEG and BMP: camera, gel-imager and slide-scanner exports.
//!
//! These hold one 2-D image (grey, grey + alpha, RGB or RGBA; 8 or 16 bits), so there is one
//! series and no plane axis: axes `YX`, or `YXS` with the samples interleaved. Non-interlaced
//! PNG is decoded row by row as bands are asked for, so its memory is one row whatever the
//! image size; so is JPEG, by libjpeg scanlines. BMP and interlaced PNG cannot be decoded by
//! rows, so they are decoded once, whole, when the first band is read; images whose pixels
//! would exceed [`MAX_DECODED_BYTES`] are refused instead of exhausting memory.

mod decoded;
mod headers;
mod jpeg_rows;
mod png_rows;
mod rows;

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use scopeflow_core::{Axis, DType, ImageMeta, SeriesSummary, axes_string};
use serde_json::{Map, Value};

use crate::{Format, FormatError, ImageSource};

/// Largest image decoded whole (JPEG, BMP, interlaced PNG).
pub(crate) const MAX_DECODED_BYTES: u64 = 2 << 30;

pub(crate) fn open(path: &Path, series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    if series > 0 {
        return Err(crate::no_such_series(path, series, 1));
    }
    match crate::detect(path)? {
        Format::Png => png_rows::open(path),
        Format::Jpeg => jpeg_rows::open(path),
        Format::Bmp => decoded::open(path, decoded::Kind::Bmp),
        other => Err(crate::unsupported_format(path, other)),
    }
}

pub(crate) fn open_file(path: &Path) -> Result<BufReader<File>, FormatError> {
    let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
    Ok(BufReader::with_capacity(64 << 10, file))
}

/// The metadata of a single 2-D image of `samples` interleaved samples per pixel.
pub(crate) fn image_meta(
    format: &str,
    (width, height): (usize, usize),
    samples: usize,
    dtype: DType,
    metadata: Map<String, Value>,
) -> ImageMeta {
    let mut axes = vec![Axis::Y, Axis::X];
    let mut shape = vec![height, width];
    if samples > 1 {
        axes.push(Axis::S);
        shape.push(samples);
    }
    let series = vec![SeriesSummary {
        index: 0,
        name: None,
        axes: axes_string(&axes),
        shape: shape.clone(),
        dtype: dtype.name().into(),
    }];
    ImageMeta {
        format: format.into(),
        axes,
        shape,
        dtype,
        physical_sizes: None,
        physical_unit: None,
        time_increment: None,
        time_unit: None,
        channel_names: None,
        acquired_at: None,
        instrument: None,
        metadata,
        ome_xml: None,
        series,
    }
}

/// Checks a band request against the image, as every reader must.
pub(crate) fn check_band(
    path: &Path,
    meta: &ImageMeta,
    y0: usize,
    y1: usize,
    out: &[u8],
) -> Result<usize, FormatError> {
    let row = meta.width() * meta.samples() * meta.dtype.size();
    if y0 > y1 || y1 > meta.height() || out.len() != (y1 - y0) * row {
        return Err(FormatError::Usage {
            path: path.to_path_buf(),
            what: format!(
                "rows {y0}..{y1} into {} bytes do not fit an image of {} rows of {row} bytes",
                out.len(),
                meta.height()
            ),
        });
    }
    Ok(row)
}

pub(crate) fn check_plane(path: &Path, plane: &[usize]) -> Result<(), FormatError> {
    if plane.iter().any(|&i| i != 0) {
        return Err(FormatError::Usage {
            path: path.to_path_buf(),
            what: format!("plane index {plane:?} out of range: the image has one plane"),
        });
    }
    Ok(())
}
