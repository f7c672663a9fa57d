//! The TIFF family: plain, multi-page, BigTIFF, OME-TIFF, ImageJ hyperstacks, MetaMorph.

mod codecs;
pub mod imagej;
mod layout;
pub mod metamorph;
pub mod ome;
mod pages;
mod pixels;
mod tags;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use scopeflow_core::ImageMeta;
use tiff::decoder::{Decoder, Limits};
use tiff::tags::Tag;

use crate::FormatError;
use crate::source::{ImageSource, PlaneReader};
use layout::{FirstPageTags, LayoutError};
use pages::Page;

pub(crate) type TiffDecoder = Decoder<BufReader<File>>;

pub struct TiffSource {
    path: PathBuf,
    file: Arc<File>,
    meta: ImageMeta,
    pages: Vec<Page>,
    first_page: usize,
    big_endian: bool,
    /// Decoders for compressed data, reused across planes so the IFD chain is walked once each.
    decoders: Mutex<Vec<TiffDecoder>>,
}

fn limits() -> Limits {
    let mut l = Limits::default();
    // One strip or tile of a large plane can exceed the 256 MiB default; the real bound on
    // memory is the band the converter asks for, not this.
    l.decoding_buffer_size = 2 << 30;
    l.ifd_value_size = 256 << 20;
    l
}

pub(crate) fn new_decoder(path: &Path) -> Result<TiffDecoder, FormatError> {
    let f = File::open(path).map_err(|e| FormatError::io(path, e))?;
    Decoder::new(BufReader::with_capacity(64 << 10, f))
        .map(|d| d.with_limits(limits()))
        .map_err(|e| FormatError::corrupt(path, format!("not a readable TIFF: {e}")))
}

/// Says plainly when the header points past the end (a truncated or cut-off copy), rather
/// than the decoder's "failed to fill whole buffer".
fn check_first_ifd(
    path: &Path,
    file: &File,
    file_len: u64,
    bigtiff: bool,
) -> Result<(), FormatError> {
    let mut head = [0u8; 16];
    let n = if bigtiff { 16 } else { 8 };
    if file_len < n as u64 {
        return Err(FormatError::corrupt(
            path,
            format!("file is only {file_len} bytes, shorter than a TIFF header"),
        ));
    }
    crate::positional::read_exact_at(file, &mut head[..n], 0)
        .map_err(|e| FormatError::io(path, e))?;
    let little = head[0] == b'I';
    let offset = if bigtiff {
        let b: [u8; 8] = head[8..16].try_into().unwrap_or_default();
        if little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        }
    } else {
        let b: [u8; 4] = head[4..8].try_into().unwrap_or_default();
        u64::from(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    if offset < n as u64 || offset >= file_len {
        return Err(FormatError::corrupt(
            path,
            format!(
                "first IFD offset {offset} is outside the file ({file_len} bytes): truncated or damaged"
            ),
        ));
    }
    Ok(())
}

impl TiffSource {
    /// Opens series `series` (0-based) of the file; only OME-TIFF holds more than one.
    ///
    /// # Errors
    /// Unreadable, truncated or corrupt file; unsupported codec or sample type; no such series.
    pub fn open_series(path: &Path, bigtiff: bool, series: usize) -> Result<Self, FormatError> {
        let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
        check_first_ifd(path, &file, file_len, bigtiff)?;
        let mut d = new_decoder(path)?;
        let big_endian = matches!(d.byte_order(), tiff::tags::ByteOrder::BigEndian);
        let mut first = FirstPageTags {
            description: tags::text(&mut d, Tag::ImageDescription),
            software: tags::text(&mut d, Tag::Software),
            datetime: tags::text(&mut d, Tag::DateTime),
            make: tags::text(&mut d, Tag::Make),
            model: tags::text(&mut d, Tag::Model),
            x_resolution: tags::rational(&mut d, Tag::XResolution),
            y_resolution: tags::rational(&mut d, Tag::YResolution),
            resolution_unit: d
                .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
                .ok()
                .flatten(),
            metamorph: None,
            big_endian,
            bigtiff,
        };
        // MetaMorph declares UIC1's count in pairs but stores twice as many values, so the
        // tag is read from the IFD directly rather than through the decoder.
        if d.find_tag(Tag::Unknown(33628)).ok().flatten().is_some()
            && let Some(ifd) = d.ifd_pointer()
        {
            let mut read_at = |off: u64, len: usize| -> std::io::Result<Vec<u8>> {
                if off.saturating_add(len as u64) > file_len {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let mut buf = vec![0; len];
                crate::positional::read_exact_at(&file, &mut buf, off)?;
                Ok(buf)
            };
            first.metamorph =
                super::metamorph::read_stk_metadata(&mut read_at, ifd.0, big_endian, bigtiff);
        }
        let pages = pages::read_all(path, &mut d, file_len)?;
        let layout = layout::interpret(&pages, first, series).map_err(|e| match e {
            LayoutError::Metadata(what) => FormatError::metadata(path, what),
            LayoutError::NoSeries { count } => crate::no_such_series(path, series, count),
        })?;
        let planes = crate::plane_count(&layout.meta);
        for (i, p) in pages[layout.first_page..layout.first_page + planes]
            .iter()
            .enumerate()
        {
            if let Some(what) = p.unsupported() {
                return Err(FormatError::unsupported(
                    path,
                    format!("{what} on page {}", layout.first_page + i),
                ));
            }
        }
        Ok(TiffSource {
            path: path.to_path_buf(),
            file: Arc::new(file),
            meta: layout.meta,
            pages,
            first_page: layout.first_page,
            big_endian,
            decoders: Mutex::new(vec![d]),
        })
    }

    fn page_of(&self, plane: &[usize]) -> Result<usize, FormatError> {
        let dims: Vec<usize> = self
            .meta
            .plane_axes()
            .iter()
            .map(|&a| self.meta.axis_len(a).unwrap_or(1))
            .collect();
        if plane.len() != dims.len() || plane.iter().zip(&dims).any(|(i, d)| i >= d) {
            return Err(FormatError::Usage {
                path: self.path.clone(),
                what: format!("plane index {plane:?} out of range {dims:?}"),
            });
        }
        let linear = plane.iter().zip(&dims).fold(0, |acc, (i, d)| acc * d + i);
        Ok(self.first_page + linear)
    }

    pub(crate) fn take_decoder(&self) -> Result<TiffDecoder, FormatError> {
        let pooled = self.decoders.lock().ok().and_then(|mut v| v.pop());
        match pooled {
            Some(d) => Ok(d),
            None => new_decoder(&self.path),
        }
    }

    pub(crate) fn give_back(&self, d: TiffDecoder) {
        if let Ok(mut v) = self.decoders.lock() {
            v.push(d);
        }
    }
}

impl ImageSource for TiffSource {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        self.pages[self.first_page].chunk_height
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        let page = self.page_of(plane)?;
        Ok(Box::new(pixels::TiffPlaneReader::new(self, page)))
    }
}
