//! JPEG decoded by scanline with libjpeg (through mozjpeg): a band costs one row of memory,
//! and the pixels are those libjpeg-turbo gives Pillow, imageio and tifffile users, not an
//! approximation of them (JPEG decoders may legally differ by a grey level).

use std::fs::File;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use mozjpeg::decompress::DecompressStarted;
use mozjpeg::{ColorSpace, Decompress};
use scopeflow_core::{DType, ImageMeta, PhysicalSizes};
use serde_json::{Map, Value};

use super::image_meta;
use super::rows::{RowDecoder, SequentialSource};
use crate::{FormatError, ImageSource};

type Started = DecompressStarted<BufReader<File>>;

/// libjpeg reports errors by unwinding out of the C code (without the panic hook), so every
/// call into it runs here, where that unwind becomes an error naming the file.
fn guarded<T>(path: &Path, f: impl FnOnce() -> std::io::Result<T>) -> Result<T, FormatError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(FormatError::corrupt(
            path,
            "JPEG ends before its last row (truncated)",
        )),
        Ok(Err(e)) => Err(FormatError::corrupt(path, format!("JPEG: {e}"))),
        Err(payload) => {
            let what = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "libjpeg stopped on an error".into());
            Err(FormatError::corrupt(path, format!("JPEG: {what}")))
        }
    }
}

pub(super) fn open(path: &Path) -> Result<Box<dyn ImageSource>, FormatError> {
    super::headers::check_jpeg_end(path)?;
    let (meta, _) = start(path)?;
    Ok(Box::new(SequentialSource::<JpegDecoder>::new(path, meta)))
}

/// The image's metadata and a decompressor positioned at the first row.
fn start(path: &Path) -> Result<(ImageMeta, Started), FormatError> {
    let owned = path.to_path_buf();
    guarded(path, move || {
        let mut dec = Decompress::new_path(&owned)?;
        let density = dec.pixel_density();
        let (w, h) = dec.size();
        let space = dec.color_space();
        let (samples, started) = match space {
            ColorSpace::JCS_GRAYSCALE => (1, dec.grayscale()?),
            ColorSpace::JCS_YCbCr | ColorSpace::JCS_RGB => (3, dec.rgb()?),
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!("colour space {other:?} (only grey and RGB JPEGs are read)"),
                ));
            }
        };
        let mut info = Map::new();
        info.insert("color_space".into(), format!("{space:?}").into());
        let mut metadata = Map::new();
        metadata.insert("jpeg".into(), Value::Object(info));
        let mut meta = image_meta("jpeg", (w, h), samples, DType::U8, metadata);
        if let Some(d) = density.filter(|d| d.x > 0 && d.y > 0) {
            let per_um = match d.unit {
                mozjpeg::PixelDensityUnit::Inches => Some(25_400.0),
                mozjpeg::PixelDensityUnit::Centimeters => Some(10_000.0),
                mozjpeg::PixelDensityUnit::PixelAspectRatio => None,
            };
            if let Some(um) = per_um {
                meta.physical_sizes = Some(PhysicalSizes {
                    x: Some(um / f64::from(d.x)),
                    y: Some(um / f64::from(d.y)),
                    z: None,
                });
                meta.physical_unit = Some("micrometer".into());
            }
        }
        Ok((meta, started))
    })
    .map_err(|e| match e {
        FormatError::Corrupt { path, what } if what.contains("colour space") => {
            FormatError::Unsupported { path, what }
        }
        other => other,
    })
}

/// libjpeg's scanline decompressor, every call guarded.
pub(super) struct JpegDecoder(Started);

impl RowDecoder for JpegDecoder {
    /// libjpeg decodes one MCU row (8 or 16 lines) at a time.
    const NATURAL_ROWS: usize = 16;

    fn start(path: &Path) -> Result<Self, FormatError> {
        Ok(Self(start(path)?.1))
    }

    fn next_row(&mut self, path: &Path, dst: &mut [u8]) -> Result<(), FormatError> {
        guarded(path, || self.0.read_scanlines_into(dst).map(|_| ()))
    }

    fn finish(self, path: &Path) -> Result<(), FormatError> {
        guarded(path, move || self.0.finish())
    }
}
