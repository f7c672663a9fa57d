//! Band reads of one plane.
//!
//! Uncompressed strips are read straight from the file at the rows asked for, so even a
//! plane stored as one giant strip costs only the band. Compressed data is decoded one
//! strip or row of tiles at a time through the `tiff` crate and kept until the band moves
//! past it.

use super::pages::Page;
use super::{TiffDecoder, TiffSource};
use crate::FormatError;
use crate::source::PlaneReader;

pub(crate) struct TiffPlaneReader<'a> {
    src: &'a TiffSource,
    page_index: usize,
    page: &'a Page,
    decoder: Option<TiffDecoder>,
    /// Index of the cached chunk row and its full-width decoded rows (native byte order).
    cache: Option<(usize, Vec<u8>)>,
    scratch: Vec<u8>,
}

impl<'a> TiffPlaneReader<'a> {
    pub(crate) fn new(src: &'a TiffSource, page_index: usize) -> Self {
        TiffPlaneReader {
            src,
            page_index,
            page: &src.pages[page_index],
            decoder: None,
            cache: None,
            scratch: Vec::new(),
        }
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> FormatError {
        FormatError::corrupt(&self.src.path, format!("page {}: {what}", self.page_index))
    }

    fn direct(&self) -> bool {
        let p = self.page;
        p.compression == 1 && p.predictor == 1 && !p.tiled && (p.planar == 1 || p.samples == 1)
    }

    fn read_direct(&self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let p = self.page;
        let row = p.row_bytes();
        let mut y = y0;
        while y < y1 {
            let strip = y / p.chunk_height;
            let strip_y0 = strip * p.chunk_height;
            let end = y1.min(strip_y0 + p.chunk_height).min(p.height);
            let (Some(&offset), Some(&count)) = (p.offsets.get(strip), p.byte_counts.get(strip))
            else {
                return Err(self.corrupt(format!("no offset for strip {strip}")));
            };
            let need = ((end - strip_y0) * row) as u64;
            if need > count {
                return Err(self.corrupt(format!(
                    "strip {strip} holds {count} bytes, {need} needed for its rows"
                )));
            }
            let at = offset + ((y - strip_y0) * row) as u64;
            let dst = &mut out[(y - y0) * row..(end - y0) * row];
            crate::positional::read_exact_at(&self.src.file, dst, at)
                .map_err(|e| self.corrupt(format!("reading strip {strip}: {e}")))?;
            y = end;
        }
        if self.src.big_endian {
            swap_bytes(out, p.bytes_per_sample());
        }
        Ok(())
    }

    /// Decodes chunk row `cr` (one strip, or one row of tiles) into `self.cache`.
    fn decode_chunk_row(&mut self, cr: usize) -> Result<(), FormatError> {
        if self.cache.as_ref().is_some_and(|(c, _)| *c == cr) {
            return Ok(());
        }
        let p = self.page;
        let row = p.row_bytes();
        let rows = (p.height - cr * p.chunk_height).min(p.chunk_height);
        let mut buf = self.cache.take().map(|(_, b)| b).unwrap_or_default();
        crate::resize_zeroed(
            &mut buf,
            &self.src.path,
            &[rows, row],
            "a strip or row of tiles",
        )?;
        if self.decoder.is_none() {
            let mut d = self.src.take_decoder()?;
            d.seek_to_image(self.page_index)
                .map_err(|e| self.corrupt(format!("cannot reach page: {e}")))?;
            self.decoder = Some(d);
        }
        let across = p.chunks_across();
        let bps = p.bytes_per_sample() * p.samples;
        for j in 0..across {
            let idx = (cr * across + j) as u32;
            let col0 = j * p.chunk_width;
            let data_w = (p.width - col0).min(p.chunk_width);
            let tile_row = data_w * bps;
            let Some(d) = self.decoder.as_mut() else {
                unreachable!("decoder set above")
            };
            let layout = d.image_chunk_buffer_layout(idx).map_err(|e| {
                FormatError::corrupt(
                    &self.src.path,
                    format!("page {} chunk {idx}: {e}", self.page_index),
                )
            })?;
            crate::resize_zeroed(&mut self.scratch, &self.src.path, &[layout.len], "a tile")?;
            d.read_chunk_bytes(idx, &mut self.scratch).map_err(|e| {
                FormatError::corrupt(
                    &self.src.path,
                    format!("page {} chunk {idx}: {e}", self.page_index),
                )
            })?;
            let stride = layout.row_stride.map_or(tile_row, |s| s.get());
            if stride < tile_row || self.scratch.len() < stride * (rows - 1) + tile_row {
                return Err(self.corrupt(format!("chunk {idx} decoded to a short buffer")));
            }
            for r in 0..rows {
                let src = &self.scratch[r * stride..r * stride + tile_row];
                buf[r * row + col0 * bps..r * row + col0 * bps + tile_row].copy_from_slice(src);
            }
        }
        self.cache = Some((cr, buf));
        Ok(())
    }
}

impl PlaneReader for TiffPlaneReader<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let p = self.page;
        let row = p.row_bytes();
        if y0 >= y1 || y1 > p.height || out.len() != (y1 - y0) * row {
            return Err(FormatError::Usage {
                path: self.src.path.clone(),
                what: format!(
                    "bad band request rows {y0}..{y1} into {} bytes (height {}, {row} bytes a row)",
                    out.len(),
                    p.height
                ),
            });
        }
        if self.direct() {
            return self.read_direct(y0, y1, out);
        }
        let mut y = y0;
        while y < y1 {
            let cr = y / p.chunk_height;
            self.decode_chunk_row(cr)?;
            let base = cr * p.chunk_height;
            let end = y1.min(base + p.chunk_height);
            let Some((_, cached)) = &self.cache else {
                unreachable!("decoded above")
            };
            out[(y - y0) * row..(end - y0) * row]
                .copy_from_slice(&cached[(y - base) * row..(end - base) * row]);
            y = end;
        }
        if cfg!(target_endian = "big") {
            swap_bytes(out, p.bytes_per_sample());
        }
        Ok(())
    }
}

impl Drop for TiffPlaneReader<'_> {
    fn drop(&mut self) {
        if let Some(d) = self.decoder.take() {
            self.src.give_back(d);
        }
    }
}

/// Reverses the byte order of every `size`-byte sample in place.
fn swap_bytes(buf: &mut [u8], size: usize) {
    if size > 1 {
        for s in buf.chunks_exact_mut(size) {
            s.reverse();
        }
    }
}
