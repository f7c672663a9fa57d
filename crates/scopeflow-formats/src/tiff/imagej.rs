//! ImageJ's `key=value` ImageDescription and its binary IJMetadata tags.
//!
//! The rules copy tifffile (`imagej_description_metadata`, `_series_imagej`,
//! `imagej_metadata`), because tifffile produced the ground truth and because ImageJ itself
//! documents none of this: values are typed int, then float, then bool, then string; the page
//! sequence is T, Z, C from slowest to fastest; a description that names no dimension leaves
//! the page count to decide.

use scopeflow_core::Axis;
use serde_json::{Map, Number, Value};

/// The ImageJ description, with the keys the converter uses pulled out and typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageJInfo {
    /// Value of `ImageJ=` (or `SCIFIO=`), as written, e.g. `1.53c`.
    pub version: String,
    /// Counts are `Some(0)` when the description gives a value < 1, which makes the layout
    /// invalid (see [`ImageJInfo::lead_axes`]); unparsable values stay in `other`.
    pub images: Option<usize>,
    pub channels: Option<usize>,
    pub slices: Option<usize>,
    pub frames: Option<usize>,
    pub hyperstack: bool,
    /// As written (`micron`, `um`, `\u00B5m`, `pixel` …); see [`crate::units::ngff_unit`].
    pub unit: Option<String>,
    /// Z step in `unit`.
    pub spacing: Option<f64>,
    /// Frame interval; ImageJ means seconds unless a `tunit` key (kept in `other`) says else.
    pub finterval: Option<f64>,
    pub mode: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Rarely written dimension order (`czt` default, as in tifffile).
    pub order: Option<String>,
    /// Every other key, typed like tifffile types it (int, float, bool, else string).
    pub other: Map<String, Value>,
}

/// Parse an ImageJ ImageDescription; `None` unless it starts with `ImageJ=` (or `SCIFIO=`,
/// which tifffile also treats as ImageJ).
pub fn parse_imagej_description(desc: &str) -> Option<ImageJInfo> {
    if !(desc.starts_with("ImageJ=") || desc.starts_with("SCIFIO=")) {
        return None;
    }
    let mut info = ImageJInfo::default();
    let mut version = None;
    let mut scifio = None;
    for line in desc.split(is_python_line_break) {
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let raw = raw.trim();
        let typed = python_typed(raw);
        // Later duplicates win, as in tifffile's dict; a key lands in `other` only when it has
        // no field of its own or its value does not fit the field.
        let fits = match key {
            "ImageJ" => {
                version = Some(raw.to_string());
                true
            }
            "SCIFIO" => {
                scifio = Some(raw.to_string());
                true
            }
            "images" | "channels" | "slices" | "frames" => {
                let count = match &typed {
                    Value::Number(n) => n.as_i64().map(|v| usize::try_from(v).unwrap_or(0)),
                    _ => None,
                };
                match key {
                    "images" => info.images = count,
                    "channels" => info.channels = count,
                    "slices" => info.slices = count,
                    _ => info.frames = count,
                }
                count.is_some()
            }
            "hyperstack" => {
                info.hyperstack = match &typed {
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64().is_some_and(|v| v != 0.0),
                    _ => false,
                };
                true
            }
            "unit" => {
                info.unit = Some(raw.to_string());
                true
            }
            "mode" => {
                info.mode = Some(raw.to_string());
                true
            }
            "order" => {
                info.order = Some(raw.to_string());
                true
            }
            "spacing" | "finterval" | "min" | "max" => {
                let v = typed.as_f64();
                match key {
                    "spacing" => info.spacing = v,
                    "finterval" => info.finterval = v,
                    "min" => info.min = v,
                    _ => info.max = v,
                }
                v.is_some()
            }
            _ => false,
        };
        if fits {
            info.other.shift_remove(key);
        } else {
            info.other.insert(key.to_string(), typed);
        }
    }
    info.version = version.or(scifio.clone()).unwrap_or_default();
    if let Some(s) = scifio {
        info.other.insert("SCIFIO".into(), Value::String(s));
    }
    Some(info)
}

/// Python's `str.splitlines` boundaries, which tifffile uses.
fn is_python_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\u{0b}'
            | '\u{0c}'
            | '\u{1c}'
            | '\u{1d}'
            | '\u{1e}'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// tifffile tries `int`, `float`, then `bool`; non-finite floats stay strings for JSON's sake.
fn python_typed(raw: &str) -> Value {
    if let Ok(i) = raw.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(f) = raw.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    match raw.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(raw.to_string()),
    }
}

impl ImageJInfo {
    /// Axes of the page sequence in ImageJ order (T, Z, C from slowest to fastest), only those
    /// longer than 1, as tifffile squeezes them.
    ///
    /// Sizes come from the description, not from `page_count`: ImageJ writes files over 4 GiB
    /// with a single IFD and the planes stored contiguously after it. `page_count` decides only
    /// when the description names no dimension (e.g. just `images=N`): then the pages form one
    /// unnamed axis, reported as Z like ImageJ and Bio-Formats open it. Invalid counts (< 1)
    /// give the same page-sequence fallback, as tifffile does.
    pub fn lead_axes(&self, page_count: usize) -> Vec<(Axis, usize)> {
        self.lead_axes_with_samples(page_count, 1)
    }

    /// Like [`ImageJInfo::lead_axes`], for pages with several samples per pixel: when
    /// `channels` equals the samples per pixel (RGB, or Bio-Formats declaring planar samples as
    /// channels), the channels are the pages' samples, not separate pages, so no C axis leads.
    pub fn lead_axes_with_samples(
        &self,
        page_count: usize,
        samples_per_pixel: usize,
    ) -> Vec<(Axis, usize)> {
        let page_sequence = || {
            if page_count > 1 {
                vec![(Axis::Z, page_count)]
            } else {
                Vec::new()
            }
        };
        let frames = self.frames.unwrap_or(1);
        let slices = self.slices.unwrap_or(1);
        let mut channels = self.channels.unwrap_or(1);
        let images = self.images.unwrap_or(1);
        if [frames, slices, channels, images].contains(&0) {
            return page_sequence();
        }
        if samples_per_pixel > 1 && channels == samples_per_pixel {
            channels = 1;
        }
        let Some(planes) = frames
            .checked_mul(slices)
            .and_then(|n| n.checked_mul(channels))
        else {
            return page_sequence();
        };
        if planes == 1 {
            // Only `images=` (or nothing): tifffile counts the pages.
            return page_sequence();
        }
        let (t, z, c) = ((Axis::T, frames), (Axis::Z, slices), (Axis::C, channels));
        let order = match self
            .order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("ctz") => [z, t, c],
            Some("zct") => [t, c, z],
            Some("ztc") => [c, t, z],
            Some("tcz") => [z, c, t],
            Some("tzc") => [c, z, t],
            _ => [t, z, c],
        };
        order.into_iter().filter(|&(_, n)| n > 1).collect()
    }
}

/// Decode the IJMetadata tag (50839) using IJMetadataByteCounts (50838).
///
/// Returns what could be read (tifffile names: `Info` string, `Labels` list of strings,
/// `Ranges` list of numbers, `LUTs` list of byte arrays, `Properties` object, binary blocks such
/// as `ROI`/`Overlays`/`Plot` as `{"byte_counts": [...]}`); an invalid header gives an empty
/// map and a truncated body stops at the last complete entry, because this is optional display
/// metadata and must never make a readable image unreadable.
pub fn parse_ij_metadata(counts: &[u32], data: &[u8], big_endian: bool) -> Map<String, Value> {
    let mut out = Map::new();
    if counts.is_empty() || data.len() < 4 || !(&data[..4] == b"IJIJ" || &data[..4] == b"JIJI") {
        return out;
    }
    let header_size = counts[0] as usize;
    if !(12..=804).contains(&header_size) {
        return out;
    }
    let u32_at = |pos: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ntypes = (header_size - 4) / 8;
    let mut header = Vec::with_capacity(ntypes);
    for i in 0..ntypes {
        let at = 4 + i * 8;
        let (Some(tag), Some(count)) = (data.get(at..at + 4), u32_at(at + 4)) else {
            return out;
        };
        let mut tag: [u8; 4] = [tag[0], tag[1], tag[2], tag[3]];
        // Little-endian files store the type code reversed ("ofni").
        if KNOWN.iter().all(|(k, _)| k != &tag) {
            tag.reverse();
        }
        header.push((tag, count as usize));
    }
    let mut pos = 4 + ntypes * 8;
    let mut counter = 0usize;
    'types: for (tag, count) in header {
        let name = KNOWN
            .iter()
            .find(|(k, _)| k == &tag)
            .map(|(_, n)| (*n).to_string())
            .unwrap_or_else(|| String::from_utf8_lossy(&tag).trim().to_string());
        let mut blocks: Vec<&[u8]> = Vec::new();
        for _ in 0..count {
            counter += 1;
            let Some(&len) = counts.get(counter) else {
                break;
            };
            let Some(block) = pos
                .checked_add(len as usize)
                .and_then(|end| data.get(pos..end))
            else {
                insert_blocks(&mut out, &name, &blocks, big_endian);
                break 'types;
            };
            pos += len as usize;
            blocks.push(block);
        }
        insert_blocks(&mut out, &name, &blocks, big_endian);
    }
    out
}

const KNOWN: [([u8; 4], &str); 8] = [
    (*b"info", "Info"),
    (*b"labl", "Labels"),
    (*b"rang", "Ranges"),
    (*b"luts", "LUTs"),
    (*b"plot", "Plot"),
    (*b"roi ", "ROI"),
    (*b"over", "Overlays"),
    (*b"prop", "Properties"),
];

fn utf16(block: &[u8], big_endian: bool) -> String {
    let units: Vec<u16> = block
        .chunks_exact(2)
        .map(|b| {
            if big_endian {
                u16::from_be_bytes([b[0], b[1]])
            } else {
                u16::from_le_bytes([b[0], b[1]])
            }
        })
        .collect();
    String::from_utf16_lossy(&units)
}

fn insert_blocks(out: &mut Map<String, Value>, name: &str, blocks: &[&[u8]], big_endian: bool) {
    if blocks.is_empty() {
        return;
    }
    let strings = || -> Vec<String> { blocks.iter().map(|b| utf16(b, big_endian)).collect() };
    let value = match name {
        "Info" => Value::String(strings().concat()),
        "Labels" => Value::Array(strings().into_iter().map(Value::String).collect()),
        "Properties" => {
            let s = strings();
            if s.len() % 2 == 0 {
                Value::Object(
                    s.chunks_exact(2)
                        .map(|kv| (kv[0].clone(), Value::String(kv[1].clone())))
                        .collect(),
                )
            } else {
                Value::Array(s.into_iter().map(Value::String).collect())
            }
        }
        "Ranges" => Value::Array(
            blocks
                .iter()
                .flat_map(|b| b.chunks_exact(8))
                .filter_map(|b| {
                    let b: [u8; 8] = b.try_into().ok()?;
                    let v = if big_endian {
                        f64::from_be_bytes(b)
                    } else {
                        f64::from_le_bytes(b)
                    };
                    Number::from_f64(v).map(Value::Number)
                })
                .collect(),
        ),
        "LUTs" => Value::Array(
            blocks
                .iter()
                .map(|b| Value::Array(b.iter().map(|&v| Value::from(v)).collect()))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            m.insert(
                "byte_counts".into(),
                Value::Array(blocks.iter().map(|b| Value::from(b.len())).collect()),
            );
            Value::Object(m)
        }
    };
    out.insert(name.to_string(), value);
}
