//! JPEG decoded by scanline with libjpeg (through mozjpeg): a band costs one row of memory,
//! and the pixels are those libjpeg-turbo gives Pillow, imageio and tifffile users, not an
//! approximation of them (JPEG decoders may legally differ by a grey level).

use std::fs::File;
use std::io::BufReader;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use mozjpeg::decompress::DecompressStarted;
use mozjpeg::{ColorSpace, Decompress};
use scopeflow_core::{DType, ImageMeta, PhysicalSizes};
use serde_json::{Map, Value};

use super::{check_band, check_plane, image_meta};
use crate::{FormatError, ImageSource, PlaneReader};

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
    Ok(Box::new(JpegSource {
        path: path.to_path_buf(),
        meta,
    }))
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

struct JpegSource {
    path: PathBuf,
    meta: ImageMeta,
}

impl ImageSource for JpegSource {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        // libjpeg decodes one MCU row (8 or 16 lines) at a time.
        16
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        check_plane(&self.path, plane)?;
        Ok(Box::new(JpegRows {
            src: self,
            dec: None,
            next_row: 0,
        }))
    }
}

struct JpegRows<'a> {
    src: &'a JpegSource,
    dec: Option<Started>,
    next_row: usize,
}

impl PlaneReader for JpegRows<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let path = &self.src.path;
        let row = check_band(path, &self.src.meta, y0, y1, out)?;
        if self.dec.is_none() || y0 < self.next_row {
            self.dec = Some(start(path)?.1);
            self.next_row = 0;
        }
        let Some(dec) = self.dec.as_mut() else {
            return Err(FormatError::corrupt(path, "JPEG decoder lost"));
        };
        if y0 > self.next_row {
            let mut skip = vec![0u8; row];
            while self.next_row < y0 {
                guarded(path, || dec.read_scanlines_into(&mut skip).map(|_| ()))?;
                self.next_row += 1;
            }
        }
        guarded(path, || dec.read_scanlines_into(out).map(|_| ()))?;
        self.next_row = y1;
        if y1 == self.src.meta.height()
            && let Some(done) = self.dec.take()
        {
            guarded(path, move || done.finish())?;
        }
        Ok(())
    }
}
