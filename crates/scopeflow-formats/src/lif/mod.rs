//! Leica LIF reader: every image of the file (each mosaic tile of it) is a series.
//!
//! Pixels are uncompressed in the image's memory block; a band of rows is read at offsets
//! computed from the XML's byte increments, so memory stays bounded by the band.

mod container;
mod layout;
mod meta;
mod xml;

use std::fs::File;
use std::path::{Path, PathBuf};

use scopeflow_core::ImageMeta;

use crate::positional::read_exact_at;
use crate::{FormatError, ImageSource, PlaneReader};
use layout::Layout;

/// A row whose pixels are spread further apart than this is read pixel by pixel, so that a
/// strange stride never makes one row read allocate much more than the row itself.
const MAX_GATHER_SPAN: u64 = 16 << 20;

pub(crate) fn open(path: &Path, series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    Ok(Box::new(LifSource::open(path, series)?))
}

pub(crate) struct LifSource {
    path: PathBuf,
    file: File,
    meta: ImageMeta,
    layout: Layout,
    /// File offset of the image's memory block.
    block_offset: u64,
}

impl LifSource {
    fn open(path: &Path, series: usize) -> Result<Self, FormatError> {
        let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
        let (text, blocks_at) = container::read_xml(path, &file, file_len)?;
        let header = xml::parse(&text).map_err(|e| FormatError::metadata(path, e))?;
        drop(text);
        let mut all = Vec::new();
        for (i, img) in header.images.iter().enumerate() {
            for l in layout::series_of(img, file_len).map_err(|e| FormatError::metadata(path, e))? {
                all.push((i, l));
            }
        }
        if all.is_empty() {
            return Err(FormatError::metadata(
                path,
                "the LIF file holds no image with pixel data",
            ));
        }
        let summaries = meta::summaries(&all);
        let count = all.len();
        let Some((img_index, layout)) = all.into_iter().nth(series) else {
            return Err(crate::no_such_series(path, series, count));
        };
        let img = &header.images[img_index];
        let dtype = layout.dtype.clone().map_err(|t| {
            FormatError::unsupported(
                path,
                format!("image '{}': sample type {t} is not supported", img.path),
            )
        })?;
        let blocks = container::scan_blocks(path, &file, file_len, blocks_at, header.version)?;
        let id = img.memory_id.as_deref().unwrap_or("");
        let Some(block) = blocks.by_id.get(id) else {
            let why = blocks.broken.map_or_else(String::new, |b| format!(": {b}"));
            return Err(FormatError::corrupt(
                path,
                format!("memory block '{id}' of image '{}' not found{why}", img.path),
            ));
        };
        let extent = layout.extent().ok_or_else(|| {
            FormatError::metadata(
                path,
                format!("image '{}': byte increments overflow", img.path),
            )
        })?;
        if extent > block.size || layout.total_bytes > block.size {
            return Err(FormatError::corrupt(
                path,
                format!(
                    "image '{}' needs {} bytes but its memory block '{id}' holds {}",
                    img.path,
                    extent.max(layout.total_bytes),
                    block.size
                ),
            ));
        }
        let meta = meta::image_meta(&header, img, &layout, dtype, summaries);
        Ok(LifSource {
            path: path.to_path_buf(),
            file,
            meta,
            layout,
            block_offset: block.offset,
        })
    }

    fn row_bytes(&self) -> usize {
        self.meta.width() * self.meta.samples() * self.meta.dtype.size()
    }
}

impl ImageSource for LifSource {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Nothing is stored in blocks of rows: bands of about 1 MiB read efficiently.
    fn natural_rows(&self) -> usize {
        ((1 << 20) / self.row_bytes().max(1)).clamp(1, self.meta.height().max(1))
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        let axes = self.meta.plane_axes();
        let ok = plane.len() == axes.len()
            && axes
                .iter()
                .zip(plane)
                .all(|(&a, &i)| i < self.meta.axis_len(a).unwrap_or(1));
        if !ok {
            return Err(FormatError::Usage {
                path: self.path.clone(),
                what: format!("plane {plane:?} is out of range for axes {axes:?}"),
            });
        }
        Ok(Box::new(LifPlane {
            src: self,
            start: self.block_offset + self.layout.plane_offset(plane),
            scratch: Vec::new(),
        }))
    }
}

struct LifPlane<'a> {
    src: &'a LifSource,
    /// File offset of the plane's first pixel.
    start: u64,
    scratch: Vec<u8>,
}

impl LifPlane<'_> {
    fn read(&self, buf: &mut [u8], offset: u64) -> Result<(), FormatError> {
        read_exact_at(&self.src.file, buf, offset).map_err(|e| {
            FormatError::corrupt(&self.src.path, format!("pixel data at byte {offset}: {e}"))
        })
    }

    /// One row whose pixels are not packed: read its span once and pick the samples out.
    fn gather_row(&mut self, row_start: u64, out: &mut [u8]) -> Result<(), FormatError> {
        let l = &self.src.layout;
        let bps = l.bytes_per_sample as usize;
        let last_sample = l.samples.iter().copied().max().unwrap_or(0);
        let span = (l.width - 1) * l.x_inc + last_sample + l.bytes_per_sample;
        let pixel = bps * l.samples.len();
        if span > MAX_GATHER_SPAN {
            for (x, px) in out.chunks_exact_mut(pixel).enumerate() {
                for (s, dst) in l.samples.iter().zip(px.chunks_exact_mut(bps)) {
                    self.read(dst, row_start + x as u64 * l.x_inc + s)?;
                }
            }
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(span as usize, 0);
        let result = self.read(&mut scratch, row_start);
        if result.is_ok() {
            for (x, px) in out.chunks_exact_mut(pixel).enumerate() {
                for (&s, dst) in l.samples.iter().zip(px.chunks_exact_mut(bps)) {
                    let at = (x as u64 * l.x_inc + s) as usize;
                    dst.copy_from_slice(&scratch[at..at + bps]);
                }
            }
        }
        self.scratch = scratch;
        result
    }
}

impl PlaneReader for LifPlane<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let row = self.src.row_bytes();
        let h = self.src.meta.height();
        if y0 > y1 || y1 > h || out.len() != (y1 - y0) * row {
            return Err(FormatError::Usage {
                path: self.src.path.clone(),
                what: format!(
                    "rows {y0}..{y1} of a plane of height {h} into {} bytes",
                    out.len()
                ),
            });
        }
        let l = &self.src.layout;
        let packed_pixels = l.x_inc == row as u64 / l.width.max(1)
            && l.samples
                .iter()
                .enumerate()
                .all(|(i, &s)| s == i as u64 * l.bytes_per_sample);
        let first = self.start + y0 as u64 * l.y_inc;
        if packed_pixels && (l.y_inc == row as u64 || y1 - y0 == 1) {
            return self.read(out, first);
        }
        for (i, dst) in out.chunks_exact_mut(row).enumerate() {
            let at = first + i as u64 * l.y_inc;
            if packed_pixels {
                self.read(dst, at)?;
            } else {
                self.gather_row(at, dst)?;
            }
        }
        Ok(())
    }
}
