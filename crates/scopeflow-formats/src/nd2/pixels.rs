//! Reads bands of one channel out of one frame chunk: 8 bytes of timestamp, then `height`
//! rows of `row_stride` bytes (padding allowed) of pixels whose components are interleaved.
//! Raw frames are read row band by row band; a zlib frame is inflated once per reader.

use std::io::Read;

use super::Nd2Source;
use super::chunks::{ChunkSpan, chunk_at, read_at};
use crate::{FormatError, PlaneReader};

/// Bytes before the pixels in every frame chunk.
const TIMESTAMP: u64 = 8;

pub(super) struct FrameReader<'a> {
    src: &'a Nd2Source,
    seq: u64,
    component: usize,
    /// The chunk's payload span, once looked up; `Some(None)` for a frame the file lacks.
    span: Option<Option<ChunkSpan>>,
    inflated: Option<Vec<u8>>,
}

impl<'a> FrameReader<'a> {
    pub(super) fn new(src: &'a Nd2Source, seq: u64, component: usize) -> Self {
        FrameReader {
            src,
            seq,
            component,
            span: None,
            inflated: None,
        }
    }

    fn corrupt(&self, what: String) -> FormatError {
        FormatError::corrupt(&self.src.path, format!("frame {}: {what}", self.seq))
    }

    /// Bytes one frame needs: full rows, except that the last row may lack its padding.
    fn frame_bytes(&self) -> u64 {
        let f = &self.src.frame;
        let packed = f.width * f.components * f.dtype.size();
        ((f.height - 1) * f.row_stride + packed) as u64
    }

    fn span(&mut self) -> Result<Option<ChunkSpan>, FormatError> {
        if let Some(span) = self.span {
            return Ok(span);
        }
        let src = self.src;
        let span = match src.map.frame_offset(self.seq) {
            // NIS-Elements leaves frames of an aborted acquisition out of the map; the nd2
            // package reads them as zeros, and so do we.
            None => None,
            Some(offset) => {
                let (name, span) = chunk_at(&src.path, &src.file, offset, src.map.file_len())?;
                if !name.starts_with(b"ImageDataSeq|") {
                    return Err(self.corrupt(format!("byte {offset} holds no image data chunk")));
                }
                let need = self.frame_bytes();
                let enough = if src.frame.compressed {
                    span.data_len > TIMESTAMP
                        && span.data_len - TIMESTAMP <= need + need / 64 + 4096
                } else {
                    span.data_len >= TIMESTAMP + need
                };
                if !enough {
                    return Err(self.corrupt(format!(
                        "its chunk holds {} bytes, which does not fit a {need}-byte frame",
                        span.data_len
                    )));
                }
                Some(span)
            }
        };
        self.span = Some(span);
        Ok(span)
    }

    fn inflate(&mut self, span: ChunkSpan) -> Result<(), FormatError> {
        if self.inflated.is_some() {
            return Ok(());
        }
        let src = self.src;
        let len = usize::try_from(span.data_len - TIMESTAMP).unwrap_or(usize::MAX);
        let mut packed = crate::zeroed(&src.path, &[len], "a compressed frame")?;
        let what = format!("frame {}", self.seq);
        read_at(
            &src.path,
            &src.file,
            span.data_offset + TIMESTAMP,
            &mut packed,
            &what,
        )?;
        let need = self.frame_bytes();
        let full = (src.frame.height * src.frame.row_stride) as u64;
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&packed[..])
            .take(full)
            .read_to_end(&mut out)
            .map_err(|e| self.corrupt(format!("zlib: {e}")))?;
        if (out.len() as u64) < need {
            return Err(self.corrupt(format!(
                "inflates to {} bytes, the frame needs {need}",
                out.len()
            )));
        }
        self.inflated = Some(out);
        Ok(())
    }
}

impl PlaneReader for FrameReader<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let f = &self.src.frame;
        let samples = self.src.channels.samples;
        let bps = f.dtype.size();
        let row_out = f.width * samples * bps;
        if y0 > y1 || y1 > f.height || out.len() != (y1 - y0) * row_out {
            return Err(FormatError::Usage {
                path: self.src.path.clone(),
                what: format!(
                    "rows {y0}..{y1} into {} bytes do not fit a {}-row plane of {row_out}-byte rows",
                    out.len(),
                    f.height
                ),
            });
        }
        if y0 == y1 {
            return Ok(());
        }
        let Some(span) = self.span()? else {
            out.fill(0);
            return Ok(());
        };
        let packed = f.width * f.components * bps;
        let stride = f.row_stride;
        let band_len = (y1 - y0 - 1) * stride + packed;
        let pick = Pick {
            width: f.width,
            stride,
            offset: self.component * bps,
            pixel: f.components * bps,
            run: samples * bps,
        };
        if f.compressed {
            self.inflate(span)?;
            let data = self.inflated.as_deref().unwrap_or_default();
            let band = &data[y0 * stride..y0 * stride + band_len];
            pick.copy(band, y1 - y0, out);
        } else {
            let mut band = crate::zeroed(&self.src.path, &[band_len], "a band of rows")?;
            let at = span.data_offset + TIMESTAMP + (y0 * stride) as u64;
            let what = format!("rows {y0}..{y1} of frame {}", self.seq);
            read_at(&self.src.path, &self.src.file, at, &mut band, &what)?;
            pick.copy(&band, y1 - y0, out);
        }
        Ok(())
    }
}

/// Which bytes of each stored pixel belong to the plane.
struct Pick {
    width: usize,
    stride: usize,
    /// Offset of the wanted channel's first sample within a pixel.
    offset: usize,
    /// Bytes per stored pixel (all components).
    pixel: usize,
    /// Bytes of the wanted channel per pixel (all its samples).
    run: usize,
}

impl Pick {
    fn copy(&self, band: &[u8], rows: usize, out: &mut [u8]) {
        let row_out = self.width * self.run;
        for (r, dst) in out.chunks_exact_mut(row_out).take(rows).enumerate() {
            let row = &band[r * self.stride..r * self.stride + self.width * self.pixel];
            if self.run == self.pixel {
                dst.copy_from_slice(row);
                continue;
            }
            for (d, s) in dst
                .chunks_exact_mut(self.run)
                .zip(row.chunks_exact(self.pixel))
            {
                d.copy_from_slice(&s[self.offset..self.offset + self.run]);
            }
        }
    }
}
