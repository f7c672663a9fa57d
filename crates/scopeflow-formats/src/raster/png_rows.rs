//! PNG decoded row by row: a band costs one row of memory, and a plane read top to bottom
//! through one reader inflates the file once.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use png::{BitDepth, Transformations};
use scopeflow_core::{DType, PhysicalSizes};
use serde_json::{Map, Value};

use super::rows::{RowDecoder, SequentialSource};
use super::{image_meta, open_file};
use crate::{FormatError, ImageSource};

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
    Ok(Box::new(SequentialSource::<PngDecoder>::new(path, meta)))
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

/// PNG's row decoder, counting rows to name where a truncated file ends.
pub(super) struct PngDecoder {
    reader: Reader,
    sixteen: bool,
    row: usize,
}

impl RowDecoder for PngDecoder {
    const NATURAL_ROWS: usize = 1;

    fn start(path: &Path) -> Result<Self, FormatError> {
        let reader = start(path)?;
        let sixteen = reader.output_color_type().1 == BitDepth::Sixteen;
        Ok(Self {
            reader,
            sixteen,
            row: 0,
        })
    }

    fn next_row(&mut self, path: &Path, dst: &mut [u8]) -> Result<(), FormatError> {
        let height = self.reader.info().height;
        let data = match self.reader.next_row() {
            Ok(Some(r)) => r.data(),
            Ok(None) => {
                return Err(FormatError::corrupt(
                    path,
                    format!(
                        "PNG image data ends at row {} of {height} (truncated)",
                        self.row
                    ),
                ));
            }
            Err(e) => return Err(decode_error(path, &e)),
        };
        if data.len() != dst.len() {
            return Err(FormatError::corrupt(
                path,
                format!(
                    "PNG row of {} bytes where {} were expected",
                    data.len(),
                    dst.len()
                ),
            ));
        }
        copy_row(data, dst, self.sixteen);
        self.row += 1;
        Ok(())
    }

    /// A copy cut inside the last chunks still yields every row: reading to IEND says so.
    fn finish(mut self, path: &Path) -> Result<(), FormatError> {
        self.reader.finish().map_err(|e| decode_error(path, &e))
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
