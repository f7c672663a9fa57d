//! Pixels of one plane of a scene, composed band by band from the subblocks the band touches.
//!
//! Uncompressed subblocks are read row range by row range straight from the file, so even a
//! single subblock covering a huge plane costs only the band. Compressed subblocks (zstd) must
//! be decoded whole; the last decoded ones are kept in a cache bounded in bytes, so reading a
//! plane top to bottom in bands decodes each subblock once as long as one row of tiles fits.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::Arc;

use crate::{FormatError, PlaneReader};

use super::CziSource;
use super::gaps::zero_uncovered;
use super::layout::{Tile, compression_name};
use super::segments::{read_at, read_into, subblock_data};

/// Decoded subblocks kept per plane reader. One more can be held while it is being used.
const CACHE_BYTES: usize = 256 << 20;
/// A decoded subblock larger than this is refused rather than allocated.
const MAX_SUBBLOCK_BYTES: u64 = 4 << 30;

pub(crate) struct CziPlane<'a> {
    pub(crate) src: &'a CziSource,
    /// Indices into the scene's tiles, in drawing order (later wins).
    pub(crate) tiles: Vec<usize>,
    cache: VecDeque<(usize, Arc<Decoded>)>,
    cached_bytes: usize,
    /// Where each tile's pixel data is (offset, length), once looked up.
    located: HashMap<usize, (u64, u64)>,
    /// The compressed bytes of the subblock being decoded, reused from one to the next.
    compressed: Vec<u8>,
}

/// A decoded subblock, rows packed. With HiLoByteUnpack the bytes stay as stored (all low
/// bytes, then all high bytes) and are interleaved as rows are copied out: one pass over the
/// pixels instead of two, and no second buffer.
struct Decoded {
    bytes: Vec<u8>,
    hilo: bool,
}

impl<'a> CziPlane<'a> {
    pub(crate) fn new(src: &'a CziSource, tiles: Vec<usize>) -> Self {
        CziPlane {
            src,
            tiles,
            cache: VecDeque::new(),
            cached_bytes: 0,
            located: HashMap::new(),
            compressed: Vec::new(),
        }
    }

    fn locate(&mut self, index: usize) -> Result<(u64, u64), FormatError> {
        if let Some(&found) = self.located.get(&index) {
            return Ok(found);
        }
        let src = self.src;
        let tile = &src.scene.tiles[index];
        let d = subblock_data(&src.file, &src.path, src.file_len, tile.file_position)?;
        self.located.insert(index, (d.offset, d.len));
        Ok((d.offset, d.len))
    }

    /// The whole decoded subblock, from the cache or decoded now.
    fn decoded(&mut self, index: usize) -> Result<Arc<Decoded>, FormatError> {
        if let Some(pos) = self.cache.iter().position(|(i, _)| *i == index)
            && let Some(hit) = self.cache.remove(pos)
        {
            let data = hit.1.clone();
            self.cache.push_back(hit);
            return Ok(data);
        }
        let (offset, len) = self.locate(index)?;
        let src = self.src;
        let tile = &src.scene.tiles[index];
        let data = Arc::new(decode(src, tile, offset, len, &mut self.compressed)?);
        self.cached_bytes += data.bytes.len();
        self.cache.push_back((index, data.clone()));
        while self.cached_bytes > CACHE_BYTES && self.cache.len() > 1 {
            if let Some((_, old)) = self.cache.pop_front() {
                self.cached_bytes -= old.bytes.len();
            }
        }
        Ok(data)
    }
}

fn tile_bytes(src: &CziSource, tile: &Tile) -> Result<usize, FormatError> {
    let n = (tile.width as u64)
        .checked_mul(tile.height as u64)
        .and_then(|n| n.checked_mul(src.scene.pixel_type.bytes_per_pixel() as u64))
        .filter(|&n| n <= MAX_SUBBLOCK_BYTES)
        .ok_or_else(|| {
            FormatError::corrupt(
                &src.path,
                format!(
                    "subblock of {} x {} pixels is too large",
                    tile.width, tile.height
                ),
            )
        })?;
    Ok(n as usize)
}

/// Decodes a compressed subblock into `width * height` pixels, rows packed; `compressed` is
/// scratch space for the stored bytes.
fn decode(
    src: &CziSource,
    tile: &Tile,
    offset: u64,
    len: u64,
    compressed: &mut Vec<u8>,
) -> Result<Decoded, FormatError> {
    let path = &src.path;
    let expected = tile_bytes(src, tile)?;
    let at = format!("subblock at offset {}", tile.file_position);
    read_into(&src.file, path, src.file_len, offset, len, &at, compressed)?;
    let (stream, hilo) = match tile.compression {
        5 => (&compressed[..], false),
        6 => zstd1_header(compressed)
            .map_err(|e| FormatError::corrupt(path, format!("{at}: {e}")))?,
        other => {
            return Err(FormatError::unsupported(
                path,
                format!(
                    "{at}: {} compression is not supported",
                    compression_name(other)
                ),
            ));
        }
    };
    let hilo = hilo && src.scene.pixel_type.dtype.size() == 2;
    if let Some(bytes) = decompress_whole(stream, expected) {
        return Ok(Decoded { bytes, hilo });
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(stream)
        .map_err(|e| FormatError::corrupt(path, format!("{at}: zstd: {e}")))?;
    // Growing the buffer with the data (instead of allocating `expected` up front) keeps a
    // corrupt size from allocating gigabytes for a few bytes of input.
    let mut bytes = Vec::new();
    decoder
        .take(expected as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| FormatError::corrupt(path, format!("{at}: zstd: {e}")))?;
    if bytes.len() < expected {
        return Err(FormatError::corrupt(
            path,
            format!(
                "{at}: decodes to {} bytes, expected {expected}",
                bytes.len()
            ),
        ));
    }
    Ok(Decoded { bytes, hilo })
}

/// The common case in one call into an unfilled buffer (the streaming decoder zero-fills
/// every buffer it reads into: 2% of a CZI conversion's CPU): a single frame whose header
/// gives the subblock's size, so what is reserved is what the directory and the frame both
/// claim, and pages are only touched as the frame fills them.
/// `None` sends anything else (no size in the frame, another size, more frames, corrupt
/// data) to the streaming decoder, which handles it and names the error.
fn decompress_whole(stream: &[u8], expected: usize) -> Option<Vec<u8>> {
    let declared = zstd::zstd_safe::get_frame_content_size(stream).ok()??;
    if declared != expected as u64 {
        return None;
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(expected).ok()?;
    let n = zstd::bulk::Decompressor::new()
        .ok()?
        .decompress_to_buffer(stream, &mut bytes)
        .ok()?;
    (n == expected).then_some(bytes)
}

/// Splits zstd1's header off: a size byte, then chunks; chunk type 1 carries a flag byte
/// whose bit 0 says the 16-bit data was stored as all low bytes, then all high bytes.
fn zstd1_header(raw: &[u8]) -> Result<(&[u8], bool), String> {
    let size = usize::from(*raw.first().ok_or("empty zstd1 data")?);
    if size == 0 {
        return Err("zstd1 header of size 0".into());
    }
    let header = raw.get(1..size).ok_or("truncated zstd1 header")?;
    let mut hilo = false;
    let mut i = 0;
    while i < header.len() {
        match header[i] {
            1 => {
                let flags = *header.get(i + 1).ok_or("truncated zstd1 header chunk")?;
                hilo = flags & 1 != 0;
                i += 2;
            }
            t => return Err(format!("unknown zstd1 header chunk type {t}")),
        }
    }
    Ok((&raw[size..], hilo))
}

/// Writes little-endian 16-bit values from their low and high bytes, stored apart.
fn interleave_hilo(dst: &mut [u8], lo: &[u8], hi: &[u8]) {
    // Whole pairs written at once: a byte at a time kept the loop from vectorising.
    for ((pair, &l), &h) in dst.chunks_exact_mut(2).zip(lo).zip(hi) {
        pair.copy_from_slice(&[l, h]);
    }
}

impl PlaneReader for CziPlane<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let src = self.src;
        let scene = &src.scene;
        let bpp = scene.pixel_type.bytes_per_pixel();
        let row = scene.width * bpp;
        if y0 > y1 || y1 > scene.height || out.len() != (y1 - y0) * row {
            return Err(FormatError::Usage {
                path: src.path.clone(),
                what: format!(
                    "rows {y0}..{y1} with a buffer of {} bytes: the plane has {} rows of {row} bytes",
                    out.len(),
                    scene.height
                ),
            });
        }
        let tiles = self.tiles.iter().map(|&i| &scene.tiles[i]);
        zero_uncovered(out, (y0, y1), (scene.width, bpp), tiles);
        for k in 0..self.tiles.len() {
            let index = self.tiles[k];
            let tile = &scene.tiles[index];
            let r0 = y0.max(tile.y);
            let r1 = y1.min(tile.y + tile.height);
            if r0 >= r1 {
                continue;
            }
            let trow = tile.width * bpp;
            let (data, skip) = if tile.compression == 0 {
                let (offset, len) = self.locate(index)?;
                let need = tile_bytes(src, tile)? as u64;
                if len < need {
                    return Err(FormatError::corrupt(
                        &src.path,
                        format!(
                            "uncompressed subblock at offset {} holds {len} bytes, {need} expected",
                            tile.file_position
                        ),
                    ));
                }
                let first = ((r0 - tile.y) * trow) as u64;
                let bytes = ((r1 - r0) * trow) as u64;
                let what = format!("subblock at offset {}", tile.file_position);
                let rows = read_at(
                    &src.file,
                    &src.path,
                    src.file_len,
                    offset + first,
                    bytes,
                    &what,
                )?;
                let bytes = Decoded {
                    bytes: rows,
                    hilo: false,
                };
                (Arc::new(bytes), 0)
            } else {
                (self.decoded(index)?, (r0 - tile.y) * trow)
            };
            let (lo, hi) = data.bytes.split_at(data.bytes.len() / 2);
            for r in r0..r1 {
                let from = skip + (r - r0) * trow;
                let to = (r - y0) * row + tile.x * bpp;
                let dst = &mut out[to..to + trow];
                if data.hilo {
                    let (from, n) = (from / 2, trow / 2);
                    interleave_hilo(dst, &lo[from..from + n], &hi[from..from + n]);
                } else {
                    dst.copy_from_slice(&data.bytes[from..from + trow]);
                }
                if scene.pixel_type.samples == 3 {
                    bgr_to_rgb(dst, scene.pixel_type.dtype.size());
                }
            }
        }
        Ok(())
    }
}

/// Swaps the first and third sample of every pixel.
fn bgr_to_rgb(row: &mut [u8], sample: usize) {
    for px in row.chunks_exact_mut(3 * sample) {
        let (b, rest) = px.split_at_mut(sample);
        b.swap_with_slice(&mut rest[sample..2 * sample]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilo_reinterleaves_low_then_high() {
        let mut out = [0u8; 6];
        interleave_hilo(&mut out, &[1, 2, 3], &[10, 20, 30]);
        assert_eq!(out, [1, 10, 2, 20, 3, 30]);
    }

    #[test]
    fn whole_frames_of_the_expected_size_decode_in_one_call() {
        let pixels: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let framed = zstd::bulk::compress(&pixels, 1).unwrap();
        assert_eq!(
            decompress_whole(&framed, pixels.len()),
            Some(pixels.clone())
        );
        // A size the directory does not claim: left to the streaming decoder.
        assert_eq!(decompress_whole(&framed, pixels.len() + 2), None);
        assert_eq!(
            decompress_whole(&framed[..framed.len() / 2], pixels.len()),
            None
        );
        // A streamed frame carries no size.
        let streamed = zstd::stream::encode_all(&pixels[..], 1).unwrap();
        assert_eq!(decompress_whole(&streamed, pixels.len()), None);
    }

    #[test]
    fn bgr_becomes_rgb_for_8_and_16_bits() {
        let mut a = [1, 2, 3, 4, 5, 6];
        bgr_to_rgb(&mut a, 1);
        assert_eq!(a, [3, 2, 1, 6, 5, 4]);
        let mut b = [1, 0, 2, 0, 3, 0];
        bgr_to_rgb(&mut b, 2);
        assert_eq!(b, [3, 0, 2, 0, 1, 0]);
    }

    #[test]
    fn zstd1_header_flags() {
        assert_eq!(zstd1_header(&[3, 1, 1, 9]).unwrap(), (&[9u8][..], true));
        assert_eq!(zstd1_header(&[1, 9]).unwrap(), (&[9u8][..], false));
        assert!(zstd1_header(&[3, 2, 1, 9]).is_err());
        assert!(zstd1_header(&[5, 1]).is_err());
    }
}
