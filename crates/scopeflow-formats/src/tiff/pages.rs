//! One walk over the main IFD chain, collecting what pixel reads need for each page.
//!
//! Everything is checked here (chunk offsets within the file, supported codec and sample
//! type) so that a bad file fails at open, with its cause, before any output is created.

use std::io::{Read, Seek};
use std::path::Path;

use scopeflow_core::DType;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::codecs;
use crate::FormatError;

/// Largest width or height read: whole-slide scans reach a few hundred thousand pixels; a
/// corrupt ImageWidth of 2^32 − 1 must fail here, not as a failed multi-GiB allocation.
const MAX_SIDE: usize = 1 << 22;

/// Most a compressed chunk can expand (zstd's RLE blocks reach about 43,000:1; deflate
/// about 1,000:1): a chunk claiming more decoded bytes than this is corrupt metadata.
const MAX_EXPANSION: u64 = 1 << 16;

/// Most one compressed strip or tile may decode to: it is decoded whole into memory (an
/// uncompressed one is read by the rows needed), so its size is a header's claim to refuse
/// before allocating. Whole-plane strips of large scans stay well under it.
const MAX_CHUNK_BYTES: u64 = 4 << 30;

/// The main chain rarely exceeds a few thousand pages; this bound stops a cyclic or bogus
/// chain from exhausting memory.
const MAX_PAGES: usize = 1_000_000;

#[derive(Clone, Debug)]
pub(crate) struct Page {
    pub width: usize,
    pub height: usize,
    pub samples: usize,
    pub dtype: Option<DType>,
    pub bits: u16,
    pub sample_format: u16,
    pub compression: u16,
    pub predictor: u16,
    pub planar: u16,
    pub photometric: u16,
    pub tiled: bool,
    pub chunk_width: usize,
    pub chunk_height: usize,
    pub offsets: Vec<u64>,
    pub byte_counts: Vec<u64>,
    pub reduced: bool,
}

impl Page {
    pub fn bytes_per_sample(&self) -> usize {
        usize::from(self.bits / 8)
    }

    pub fn row_bytes(&self) -> usize {
        self.width * self.samples * self.bytes_per_sample()
    }

    /// Chunks across one row of chunks (1 for strips).
    pub fn chunks_across(&self) -> usize {
        if self.tiled {
            self.width.div_ceil(self.chunk_width)
        } else {
            1
        }
    }

    /// Same geometry and sample type: pages that can form one series.
    pub fn same_kind(&self, other: &Page) -> bool {
        self.width == other.width
            && self.height == other.height
            && self.samples == other.samples
            && self.dtype == other.dtype
    }

    /// Why this page's pixels cannot be read, if they cannot.
    pub fn unsupported(&self) -> Option<String> {
        if !codecs::is_supported(self.compression) {
            return Some(format!("compression {}", codecs::name(self.compression)));
        }
        if self.dtype.is_none() {
            return Some(format!(
                "sample type of {} bits with SampleFormat {}",
                self.bits, self.sample_format
            ));
        }
        if self.planar == 2 && self.samples > 1 {
            return Some("separate sample planes (PlanarConfiguration 2)".into());
        }
        if self.photometric == 6 {
            return Some("YCbCr colour (Photometric 6)".into());
        }
        None
    }
}

fn dtype_of(bits: u16, format: u16) -> Option<DType> {
    Some(match (format, bits) {
        (1, 8) => DType::U8,
        (1, 16) => DType::U16,
        (1, 32) => DType::U32,
        (2, 8) => DType::I8,
        (2, 16) => DType::I16,
        (2, 32) => DType::I32,
        (3, 32) => DType::F32,
        (3, 64) => DType::F64,
        _ => return None,
    })
}

fn tag_u64<R: Read + Seek>(d: &mut Decoder<R>, tag: Tag) -> Result<Option<u64>, tiff::TiffError> {
    d.find_tag_unsigned::<u64>(tag)
}

fn first_u16<R: Read + Seek>(d: &mut Decoder<R>, tag: Tag, default: u16) -> u16 {
    match d.find_tag_unsigned_vec::<u16>(tag) {
        Ok(Some(v)) if !v.is_empty() => v[0],
        _ => default,
    }
}

/// Reads the current page of `d`.
pub(crate) fn read_page<R: Read + Seek>(
    path: &Path,
    d: &mut Decoder<R>,
    index: usize,
    file_len: u64,
) -> Result<Page, FormatError> {
    let bad = |what: String| FormatError::corrupt(path, format!("page {index}: {what}"));
    let (w, h) = d.dimensions().map_err(|e| bad(e.to_string()))?;
    let (width, height) = (w as usize, h as usize);
    if width == 0 || height == 0 {
        return Err(bad(format!("empty image {width}x{height}")));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(bad(format!(
            "image of {width}x{height} pixels: a side over {MAX_SIDE} pixels is corrupt metadata"
        )));
    }
    let samples = usize::from(first_u16(d, Tag::SamplesPerPixel, 1)).max(1);
    let bits = first_u16(d, Tag::BitsPerSample, 1);
    let sample_format = first_u16(d, Tag::SampleFormat, 1);
    let compression = first_u16(d, Tag::Compression, 1);
    let predictor = first_u16(d, Tag::Predictor, 1);
    let planar = first_u16(d, Tag::PlanarConfiguration, 1);
    let photometric = first_u16(d, Tag::PhotometricInterpretation, 1);
    let reduced = tag_u64(d, Tag::NewSubfileType).ok().flatten().unwrap_or(0) & 1 == 1;
    let tile_w = tag_u64(d, Tag::TileWidth).map_err(|e| bad(e.to_string()))?;
    let tile_h = tag_u64(d, Tag::TileLength).map_err(|e| bad(e.to_string()))?;
    let (tiled, chunk_width, chunk_height, off_tag, cnt_tag) = match (tile_w, tile_h) {
        (Some(tw), Some(th)) => (
            true,
            tw as usize,
            th as usize,
            Tag::TileOffsets,
            Tag::TileByteCounts,
        ),
        _ => {
            let rps = tag_u64(d, Tag::RowsPerStrip)
                .map_err(|e| bad(e.to_string()))?
                .unwrap_or(height as u64)
                .min(height as u64) as usize;
            (false, width, rps, Tag::StripOffsets, Tag::StripByteCounts)
        }
    };
    if chunk_width == 0 || chunk_height == 0 {
        return Err(bad("zero tile or strip size".into()));
    }
    let offsets = d
        .get_tag_u64_vec(off_tag)
        .map_err(|e| bad(format!("no readable pixel offsets ({e})")))?;
    let byte_counts = d
        .get_tag_u64_vec(cnt_tag)
        .map_err(|e| bad(format!("no readable pixel byte counts ({e})")))?;
    let per_plane = width.div_ceil(chunk_width) * height.div_ceil(chunk_height);
    let planes = if planar == 2 { samples } else { 1 };
    if offsets.len() < per_plane * planes || byte_counts.len() < offsets.len() {
        return Err(bad(format!(
            "{} chunk offsets and {} byte counts for {} chunks",
            offsets.len(),
            byte_counts.len(),
            per_plane * planes
        )));
    }
    for (i, (&o, &n)) in offsets.iter().zip(&byte_counts).enumerate() {
        if o.checked_add(n).is_none_or(|end| end > file_len) {
            return Err(bad(format!(
                "chunk {i} ({n} bytes at offset {o}) ends past the end of the file ({file_len} bytes)"
            )));
        }
    }
    let geometry = Geometry {
        width,
        height,
        chunk_width,
        chunk_height,
        tiled,
        pixel_bytes: samples.max(1) as u64 * u64::from(bits.div_ceil(8)) / planes as u64,
    };
    check_chunk_sizes(&geometry, compression, &byte_counts[..per_plane * planes]).map_err(bad)?;
    Ok(Page {
        width,
        height,
        samples,
        dtype: dtype_of(bits, sample_format),
        bits,
        sample_format,
        compression,
        predictor,
        planar,
        photometric,
        tiled,
        chunk_width,
        chunk_height,
        offsets,
        byte_counts,
        reduced,
    })
}

struct Geometry {
    width: usize,
    height: usize,
    chunk_width: usize,
    chunk_height: usize,
    tiled: bool,
    /// Bytes of one pixel in one chunk (one sample when samples are stored in planes).
    pixel_bytes: u64,
}

/// The dimensions must agree with the bytes the file actually stores: an uncompressed chunk
/// holds all its pixels, a compressed one cannot expand beyond [`MAX_EXPANSION`].
fn check_chunk_sizes(g: &Geometry, compression: u16, counts: &[u64]) -> Result<(), String> {
    let per_plane = g.width.div_ceil(g.chunk_width) * g.height.div_ceil(g.chunk_height);
    let down = g.height.div_ceil(g.chunk_height);
    for (i, &stored) in counts.iter().enumerate() {
        let row = (i % per_plane) / g.width.div_ceil(g.chunk_width);
        let rows = if g.tiled || row + 1 < down {
            g.chunk_height
        } else {
            g.height - row * g.chunk_height
        };
        let cols = if g.tiled { g.chunk_width } else { g.width };
        let needed = (rows as u64)
            .saturating_mul(cols as u64)
            .saturating_mul(g.pixel_bytes);
        if compression == 1 && stored < needed {
            return Err(format!(
                "chunk {i} stores {stored} bytes but {cols}x{rows} uncompressed pixels need {needed}: \
                 truncated, or wrong ImageWidth/ImageLength"
            ));
        }
        if compression != 1 && needed > MAX_CHUNK_BYTES {
            return Err(format!(
                "chunk {i} is compressed and decodes to {needed} bytes ({cols}x{rows} pixels), over the {} GiB one chunk may take",
                MAX_CHUNK_BYTES >> 30
            ));
        }
        if compression != 1 && needed > stored.max(1).saturating_mul(MAX_EXPANSION) {
            return Err(format!(
                "chunk {i} stores {stored} compressed bytes for {cols}x{rows} pixels ({needed} bytes): \
                 wrong ImageWidth/ImageLength"
            ));
        }
    }
    Ok(())
}

/// Walks the main IFD chain from the first page.
pub(crate) fn read_all<R: Read + Seek>(
    path: &Path,
    d: &mut Decoder<R>,
    file_len: u64,
) -> Result<Vec<Page>, FormatError> {
    let mut pages = vec![read_page(path, d, 0, file_len)?];
    while d.more_images() {
        if pages.len() >= MAX_PAGES {
            return Err(FormatError::corrupt(path, "more than a million pages"));
        }
        d.next_image()
            .map_err(|e| FormatError::corrupt(path, format!("page {}: {e}", pages.len())))?;
        let p = read_page(path, d, pages.len(), file_len)?;
        pages.push(p);
    }
    Ok(pages)
}
