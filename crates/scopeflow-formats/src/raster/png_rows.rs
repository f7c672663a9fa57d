//! PNG decoded row by row: a band costs one row of memory, and a plane read top to bottom
//! through one reader inflates the file once.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use png::{BitDepth, Transformations};
use scopeflow_core::{DType, ImageMeta, PhysicalSizes};
use serde_json::{Map, Value};

use super::{check_band, check_plane, image_meta, open_file};
use crate::{FormatError, ImageSource, PlaneReader};

type Reader = png::Reader<BufReader<File>>;

pub(super) fn open(path: &Path) -> Result<Box<dyn ImageSource>, FormatError> {
    let reader = start(path)?;
    let info = reader.info();
    let (color, depth) = reader.output_color_type();
    let samples = color.samples();
    let dtype = match depth {
        BitDepth::Sixteen => DType::U16,
        _ => DType::U8,
    };
    let dims = (info.width as usize, info.height as usize);
    let mut png_meta = Map::new();
    png_meta.insert("bit_depth".into(), (info.bit_depth as u8).into());
    png_meta.insert("color_type".into(), format!("{:?}", info.color_type).into());
    png_meta.insert("interlaced".into(), info.interlaced.into());
    let texts: Map<String, Value> = info
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), clip(&t.text).into()))
        .chain(info.utf8_text.iter().filter_map(|t| {
            t.get_text()
                .ok()
                .map(|text| (t.keyword.clone(), clip(&text).into()))
        }))
        .collect();
    if !texts.is_empty() {
        png_meta.insert("text".into(), Value::Object(texts));
    }
    let physical = info
        .pixel_dims
        .filter(|d| d.unit == png::Unit::Meter && d.xppu > 0 && d.yppu > 0)
        .map(|d| PhysicalSizes {
            x: Some(1e6 / f64::from(d.xppu)),
            y: Some(1e6 / f64::from(d.yppu)),
            z: None,
        });
    let interlaced = info.interlaced;
    let mut metadata = Map::new();
    metadata.insert("png".into(), Value::Object(png_meta));
    let mut meta = image_meta("png", dims, samples, dtype, metadata);
    if let Some(p) = physical {
        meta.physical_sizes = Some(p);
        meta.physical_unit = Some("micrometer".into());
    }
    if interlaced {
        // Adam7 delivers rows pass by pass: only a whole decode gives rows in order.
        drop(reader);
        return super::decoded::whole_png(path, meta);
    }
    Ok(Box::new(PngSource {
        path: path.to_path_buf(),
        meta,
    }))
}

/// A decoder positioned at the first row, with palettes and low bit depths expanded (alpha
/// kept as a sample, so nothing of the file is dropped).
pub(super) fn start(path: &Path) -> Result<Reader, FormatError> {
    let mut decoder =
        png::Decoder::new_with_limits(open_file(path)?, png::Limits { bytes: 64 << 20 });
    decoder.set_transformations(Transformations::EXPAND);
    decoder.read_info().map_err(|e| decode_error(path, &e))
}

pub(super) fn decode_error(path: &Path, e: &png::DecodingError) -> FormatError {
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            FormatError::corrupt(
                path,
                "PNG ends before its image data is complete (truncated)",
            )
        }
        png::DecodingError::IoError(io) => {
            FormatError::io(path, std::io::Error::new(io.kind(), io.to_string()))
        }
        png::DecodingError::LimitsExceeded => {
            FormatError::unsupported(path, "PNG needs more memory than its rows allow")
        }
        other => FormatError::corrupt(path, format!("PNG: {other}")),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(4096).collect()
}

struct PngSource {
    path: PathBuf,
    meta: ImageMeta,
}

impl ImageSource for PngSource {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        1
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        check_plane(&self.path, plane)?;
        Ok(Box::new(PngRows {
            src: self,
            reader: None,
            next_row: 0,
        }))
    }
}

struct PngRows<'a> {
    src: &'a PngSource,
    /// Started on the first read, restarted when a band starts above `next_row`.
    reader: Option<Reader>,
    next_row: usize,
}

impl PlaneReader for PngRows<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let path = &self.src.path;
        let row = check_band(path, &self.src.meta, y0, y1, out)?;
        if self.reader.is_none() || y0 < self.next_row {
            self.reader = Some(start(path)?);
            self.next_row = 0;
        }
        let sixteen = self.src.meta.dtype == DType::U16;
        let Some(reader) = self.reader.as_mut() else {
            return Err(FormatError::corrupt(path, "PNG decoder lost"));
        };
        while self.next_row < y1 {
            let data = match reader.next_row() {
                Ok(Some(r)) => r.data(),
                Ok(None) => {
                    return Err(FormatError::corrupt(
                        path,
                        format!(
                            "PNG image data ends at row {} of {} (truncated)",
                            self.next_row,
                            self.src.meta.height()
                        ),
                    ));
                }
                Err(e) => return Err(decode_error(path, &e)),
            };
            if data.len() != row {
                return Err(FormatError::corrupt(
                    path,
                    format!("PNG row of {} bytes where {row} were expected", data.len()),
                ));
            }
            if self.next_row >= y0 {
                let dst = &mut out[(self.next_row - y0) * row..][..row];
                copy_row(data, dst, sixteen);
            }
            self.next_row += 1;
        }
        // A copy cut inside the last chunks still yields every row: reading to IEND says so.
        if self.next_row == self.src.meta.height() {
            reader.finish().map_err(|e| decode_error(path, &e))?;
            self.reader = None;
        }
        Ok(())
    }
}

/// PNG stores 16-bit samples big-endian; scopeflow's bands are little-endian.
pub(super) fn copy_row(src: &[u8], dst: &mut [u8], sixteen: bool) {
    if sixteen {
        for (d, s) in dst.chunks_exact_mut(2).zip(src.chunks_exact(2)) {
            d[0] = s[1];
            d[1] = s[0];
        }
    } else {
        dst.copy_from_slice(src);
    }
}
