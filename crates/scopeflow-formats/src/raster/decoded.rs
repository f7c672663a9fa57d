//! Images the decoders can only give whole (BMP, interlaced PNG): decoded once, on the
//! first band read, and kept for the source's lifetime. Opening stays cheap (headers only),
//! so `inspect` never decodes pixels.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::{ColorType, ImageDecoder};
use scopeflow_core::{DType, ImageMeta};
use serde_json::{Map, Value};

use super::{MAX_DECODED_BYTES, check_band, check_plane, image_meta, open_file, png_rows};
use crate::{FormatError, ImageSource, PlaneReader};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Bmp,
    InterlacedPng,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bmp => "BMP",
            Kind::InterlacedPng => "PNG",
        }
    }
}

pub(super) fn open(path: &Path, kind: Kind) -> Result<Box<dyn ImageSource>, FormatError> {
    let decoder = new_decoder(path, kind)?;
    let (w, h) = decoder.dimensions();
    let color = decoder.color_type();
    let (mut samples, dtype) = layout(path, kind, color)?;
    // The decoder expands every palette to RGB; a grey palette is a grey image.
    let grey_palette =
        kind == Kind::Bmp && color == ColorType::Rgb8 && super::headers::bmp_grey_palette(path)?;
    if grey_palette {
        samples = 1;
    }
    let mut info = Map::new();
    info.insert("color_type".into(), format!("{color:?}").into());
    let mut metadata = Map::new();
    let format = kind.name().to_ascii_lowercase();
    metadata.insert(format.clone(), Value::Object(info));
    let meta = image_meta(&format, (w as usize, h as usize), samples, dtype, metadata);
    within_limit(path, kind, &meta)?;
    Ok(Box::new(Decoded {
        path: path.to_path_buf(),
        kind,
        meta,
        grey_palette,
        pixels: OnceLock::new(),
    }))
}

/// An interlaced PNG, whose metadata the row reader already worked out.
pub(super) fn whole_png(path: &Path, meta: ImageMeta) -> Result<Box<dyn ImageSource>, FormatError> {
    within_limit(path, Kind::InterlacedPng, &meta)?;
    Ok(Box::new(Decoded {
        path: path.to_path_buf(),
        kind: Kind::InterlacedPng,
        meta,
        grey_palette: false,
        pixels: OnceLock::new(),
    }))
}

fn within_limit(path: &Path, kind: Kind, meta: &ImageMeta) -> Result<(), FormatError> {
    if meta.raw_bytes() > MAX_DECODED_BYTES {
        return Err(FormatError::unsupported(
            path,
            format!(
                "{} image of {} bytes of pixels: {} is decoded whole and the limit is {} bytes",
                kind.name(),
                meta.raw_bytes(),
                kind.name(),
                MAX_DECODED_BYTES
            ),
        ));
    }
    Ok(())
}

type BoxedDecoder = Box<dyn ImageDecoder>;

fn new_decoder(path: &Path, kind: Kind) -> Result<BoxedDecoder, FormatError> {
    let r = open_file(path)?;
    let decoder: Result<BoxedDecoder, image::ImageError> = match kind {
        Kind::Bmp => image::codecs::bmp::BmpDecoder::new(r).map(|d| Box::new(d) as BoxedDecoder),
        Kind::InterlacedPng => {
            return Err(FormatError::corrupt(
                path,
                "interlaced PNG has no image decoder",
            ));
        }
    };
    decoder.map_err(|e| image_error(path, kind, &e))
}

fn image_error(path: &Path, kind: Kind, e: &image::ImageError) -> FormatError {
    match e {
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            FormatError::corrupt(path, format!("{} ends early (truncated)", kind.name()))
        }
        image::ImageError::IoError(io) => {
            FormatError::io(path, std::io::Error::new(io.kind(), io.to_string()))
        }
        image::ImageError::Unsupported(u) => {
            FormatError::unsupported(path, format!("{}: {u}", kind.name()))
        }
        image::ImageError::Limits(l) => {
            FormatError::unsupported(path, format!("{}: {l}", kind.name()))
        }
        other => FormatError::corrupt(path, format!("{}: {other}", kind.name())),
    }
}

fn layout(path: &Path, kind: Kind, color: ColorType) -> Result<(usize, DType), FormatError> {
    let dtype = match color {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => DType::U8,
        ColorType::L16 | ColorType::La16 | ColorType::Rgb16 | ColorType::Rgba16 => DType::U16,
        ColorType::Rgb32F | ColorType::Rgba32F => DType::F32,
        other => {
            return Err(FormatError::unsupported(
                path,
                format!("{} pixel type {other:?}", kind.name()),
            ));
        }
    };
    Ok((usize::from(color.channel_count()), dtype))
}

struct Decoded {
    path: PathBuf,
    kind: Kind,
    meta: ImageMeta,
    /// Decoded as RGB with R = G = B: only one sample per pixel is kept.
    grey_palette: bool,
    /// The whole image as little-endian bytes, or why it could not be decoded.
    pixels: OnceLock<Result<Vec<u8>, FormatError>>,
}

impl Decoded {
    fn decode(&self) -> Result<Vec<u8>, FormatError> {
        let len = usize::try_from(self.meta.raw_bytes()).map_err(|_| {
            FormatError::unsupported(&self.path, "image too large for this machine")
        })?;
        let mut buf = Vec::new();
        buf.try_reserve_exact(len).map_err(|_| {
            FormatError::unsupported(
                &self.path,
                format!("cannot allocate {len} bytes for the image"),
            )
        })?;
        buf.resize(len, 0);
        if self.kind == Kind::InterlacedPng {
            let mut reader = png_rows::start(&self.path)?;
            let mut raw = crate::zeroed(&self.path, &[len], "the interlaced image")?;
            reader
                .next_frame(&mut raw)
                .map_err(|e| png_rows::decode_error(&self.path, &e))?;
            png_rows::copy_row(&raw, &mut buf, self.meta.dtype == DType::U16);
            return Ok(buf);
        }
        let decoder = new_decoder(&self.path, self.kind)?;
        if self.grey_palette {
            let mut rgb = crate::zeroed(&self.path, &[len, 3], "the decoded RGB image")?;
            decoder
                .read_image(&mut rgb)
                .map_err(|e| image_error(&self.path, self.kind, &e))?;
            for (d, s) in buf.iter_mut().zip(rgb.chunks_exact(3)) {
                *d = s[0];
            }
            return Ok(buf);
        }
        if decoder.total_bytes() != len as u64 {
            return Err(FormatError::corrupt(
                &self.path,
                format!(
                    "decoder reports {} bytes of pixels, header said {len}",
                    decoder.total_bytes()
                ),
            ));
        }
        decoder
            .read_image(&mut buf)
            .map_err(|e| image_error(&self.path, self.kind, &e))?;
        // The `image` crate hands out samples in native byte order.
        if self.meta.dtype.size() > 1 && cfg!(target_endian = "big") {
            for s in buf.chunks_exact_mut(self.meta.dtype.size()) {
                s.reverse();
            }
        }
        Ok(buf)
    }
}

impl ImageSource for Decoded {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        self.meta.height().max(1)
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        check_plane(&self.path, plane)?;
        Ok(Box::new(DecodedRows { src: self }))
    }
}

struct DecodedRows<'a> {
    src: &'a Decoded,
}

impl PlaneReader for DecodedRows<'_> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let src = self.src;
        let row = check_band(&src.path, &src.meta, y0, y1, out)?;
        match src.pixels.get_or_init(|| src.decode()) {
            Ok(pixels) => {
                out.copy_from_slice(&pixels[y0 * row..y1 * row]);
                Ok(())
            }
            Err(e) => Err(clone_error(e)),
        }
    }
}

/// `FormatError` holds an `io::Error`, which is not `Clone`; the cached failure is replayed
/// with the same kind and message.
fn clone_error(e: &FormatError) -> FormatError {
    match e {
        FormatError::Io { path, error } => {
            FormatError::io(path, std::io::Error::new(error.kind(), error.to_string()))
        }
        FormatError::UnsupportedFormat { path, what } => FormatError::UnsupportedFormat {
            path: path.clone(),
            what: what.clone(),
        },
        FormatError::Unsupported { path, what } => FormatError::unsupported(path, what.clone()),
        FormatError::Corrupt { path, what } => FormatError::corrupt(path, what.clone()),
        FormatError::Metadata { path, what } => FormatError::metadata(path, what.clone()),
        FormatError::Usage { path, what } => FormatError::Usage {
            path: path.clone(),
            what: what.clone(),
        },
    }
}
