//! Nikon ND2 (container versions 2 and 3): a chunk map at the end of the file names every
//! chunk; each acquisition frame is one `ImageDataSeq|N!` chunk holding all channels of one
//! (T, P, Z) point, interleaved per pixel; metadata is in the binary "lite variant" encoding
//! (version 3) or in XML (version 2, and some version 3 chunks). XY positions are series.
//! Layout after the `nd2` Python package (BSD-3). The JPEG 2000 kind is refused by `detect`.

mod chunks;
mod describe;
mod layout;
mod lite;
mod pixels;
mod xml;

use std::fs::File;
use std::path::{Path, PathBuf};

use scopeflow_core::ImageMeta;
use serde_json::{Map, Value};

use crate::{FormatError, ImageSource, PlaneReader};
use chunks::ChunkMap;
use describe::{Channels, Sources};
use layout::{ExpLoop, Frame, LoopAxis};

/// Metadata chunks are kilobytes to a few megabytes; anything larger is damage.
const MAX_META_CHUNK: u64 = 64 << 20;

pub(crate) fn open(path: &Path, series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    Ok(Box::new(Nd2Source::open(path, series)?))
}

pub(crate) struct Nd2Source {
    path: PathBuf,
    file: File,
    map: ChunkMap,
    frame: Frame,
    channels: Channels,
    loops: Vec<ExpLoop>,
    series: usize,
    meta: ImageMeta,
}

/// Decodes metadata chunk `name` (`None` when the file has none).
fn decode_chunk(
    path: &Path,
    file: &File,
    map: &ChunkMap,
    name: &str,
    root: &str,
) -> Result<Option<Map<String, Value>>, FormatError> {
    let Some(data) = map.read_named(path, file, name, MAX_META_CHUNK)? else {
        return Ok(None);
    };
    let is_xml = data.starts_with(b"<")
        || data.starts_with(b"\xef\xbb\xbf<")
        || data.starts_with(b"<\0")
        || data.starts_with(b"\xff\xfe<\0");
    let decoded = if is_xml {
        let body = data
            .strip_prefix(b"\xef\xbb\xbf".as_slice())
            .unwrap_or(&data);
        let body = body.strip_prefix(b"\xff\xfe".as_slice()).unwrap_or(body);
        xml::decode(body)
    } else {
        lite::decode(&data, MAX_META_CHUNK)
    };
    let mut decoded = decoded.map_err(|e| FormatError::metadata(path, format!("{name}: {e}")))?;
    Ok(Some(match decoded.remove(root) {
        Some(Value::Object(inner)) => inner,
        _ => decoded,
    }))
}

impl Nd2Source {
    fn open(path: &Path, series: usize) -> Result<Self, FormatError> {
        let file = File::open(path).map_err(|e| FormatError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
        let version = chunks::version(path, &file)?;
        if version.0 < 2 {
            return Err(FormatError::unsupported(
                path,
                format!("ND2 container version {}.{}", version.0, version.1),
            ));
        }
        // Version 2 files name their (XML) metadata chunks without the "LV" suffix.
        let lv = if version.0 >= 3 { "LV" } else { "" };
        let map = ChunkMap::read(path, &file, file_len)?;
        let need = |m: Option<Map<String, Value>>, name: &str| {
            m.ok_or_else(|| FormatError::corrupt(path, format!("no {name} chunk")))
        };
        let attrs = decode_chunk(
            path,
            &file,
            &map,
            &format!("ImageAttributes{lv}!"),
            "SLxImageAttributes",
        )?;
        let attrs = need(attrs, "image attributes")?;
        let picture = decode_chunk(
            path,
            &file,
            &map,
            &format!("ImageMetadataSeq{lv}|0!"),
            "SLxPictureMetadata",
        )?
        .unwrap_or_default();
        let experiment = decode_chunk(
            path,
            &file,
            &map,
            &format!("ImageMetadata{lv}!"),
            "SLxExperiment",
        )?;
        let text_info = decode_chunk(
            path,
            &file,
            &map,
            &format!("ImageTextInfo{lv}!"),
            "SLxImageTextInfo",
        )?;

        // The layout checks say "not supported" for what a valid file may hold but this
        // reader does not read; anything else is metadata that contradicts itself.
        let bad = |what: String| {
            if what.contains("not supported") {
                FormatError::unsupported(path, what)
            } else {
                FormatError::metadata(path, what)
            }
        };
        let frame = layout::frame(&attrs).map_err(bad)?;
        // A raw frame must fit in the file, a zlib one within zlib's largest ratio (1032:1):
        // this bounds the one-frame buffer a compressed plane is inflated into.
        let frame_bytes = (frame.height as u64).saturating_mul(frame.row_stride as u64);
        let room = if frame.compressed {
            file_len.saturating_mul(1032)
        } else {
            file_len
        };
        if frame_bytes > room {
            return Err(FormatError::corrupt(
                path,
                format!(
                    "the attributes describe {}x{} frames of {frame_bytes} bytes, more than the \
                     {file_len}-byte file can hold",
                    frame.width, frame.height
                ),
            ));
        }
        let loops = match &experiment {
            Some(exp) => layout::loops(exp).map_err(bad)?,
            None => Vec::new(),
        };
        let channels = describe::channels(&frame, &picture).map_err(bad)?;
        let sources = Sources {
            version,
            frame: &frame,
            channels: &channels,
            loops: &loops,
            picture: &picture,
            text_info: text_info.as_ref(),
            experiment: experiment.as_ref(),
        };
        let meta = describe::image_meta(&sources, series);
        if series >= meta.series.len() {
            return Err(crate::no_such_series(path, series, meta.series.len()));
        }
        Ok(Nd2Source {
            path: path.to_path_buf(),
            file,
            map,
            frame,
            channels,
            loops,
            series,
            meta,
        })
    }

    /// The sequence index (outermost loop first) and first component of a plane.
    fn locate(&self, plane: &[usize]) -> Result<(u64, usize), FormatError> {
        let (t, c, z) = crate::source::plane_tcz(&self.meta, &self.path, plane)?;
        let mut seq: u64 = 0;
        for l in &self.loops {
            let coord = match l.axis {
                LoopAxis::T => t,
                LoopAxis::P => self.series,
                LoopAxis::Z => z,
            };
            seq = seq
                .checked_mul(l.count as u64)
                .and_then(|s| s.checked_add(coord as u64))
                .ok_or_else(|| self.usage("sequence index overflows".into()))?;
        }
        Ok((seq, c * self.channels.samples))
    }

    fn usage(&self, what: String) -> FormatError {
        FormatError::Usage {
            path: self.path.clone(),
            what,
        }
    }
}

impl ImageSource for Nd2Source {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        // A compressed frame is one zlib stream; raw rows can be read one at a time.
        if self.frame.compressed {
            self.frame.height
        } else {
            1
        }
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        let (seq, component) = self.locate(plane)?;
        Ok(Box::new(pixels::FrameReader::new(self, seq, component)))
    }
}
