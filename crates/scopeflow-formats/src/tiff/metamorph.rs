//! MetaMorph (Universal Imaging Corp.) STK metadata from the private UIC1–UIC4 TIFF tags.
//!
//! MetaMorph stores its spatial calibration only here (the standard resolution tags of the
//! CellProfiler sample say a meaningless 72 dpi). The layout follows tifffile (`read_uic1tag`,
//! `read_uic4tag`, `read_uic_tag`, `TIFF.UIC_TAGS`), the reference of the ground truth:
//!
//! * UIC1 is a list of (id, value) pairs of 32-bit integers. For ids whose type is not a plain
//!   integer the value is a file offset where the real value lives (a RATIONAL, a
//!   length-prefixed string, …).
//! * MetaMorph declares UIC1's TIFF count as the number of *pairs* while storing twice as many
//!   LONGs, and declares UIC2 as one RATIONAL per plane while storing six LONGs per plane. A
//!   generic TIFF reader therefore returns only part of the data (the `tiff` crate returns the
//!   first `count` LONGs of UIC1, i.e. half the pairs), so [`read_stk_metadata`] reads the IFD
//!   entries itself.
//! * UIC4 is a stream of (u16 id, inline value) records ending at id 0; its values override
//!   UIC1's.
//!
//! Every offset and length comes from the file, so every read is bounded and a failed read
//! only drops that one value.

use std::io;

use serde_json::{Map, Number, Value};

/// The MetaMorph values the converter uses, plus everything else under tifffile's names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetaMorphInfo {
    /// Pixel width in `calibration_units` (µm for the CellProfiler sample).
    pub x_calibration: Option<f64>,
    pub y_calibration: Option<f64>,
    /// As written, typically `um`; see [`crate::units::ngff_unit`].
    pub calibration_units: Option<String>,
    /// Plane (channel) name, e.g. the illumination setting `Cy5`.
    pub name: Option<String>,
    /// Other UIC values keyed like tifffile's `stk_metadata` (`SpatialCalibration`,
    /// `wavelength`, `StageLabel`, `PlaneProperty`, `CreateTime` as ISO 8601, `NumberPlanes`,
    /// `ZDistance`, `Wavelengths`, …). Ids tifffile does not know appear as `_TagId<n>`.
    pub other: Map<String, Value>,
}

/// Parse UIC1 pairs for a single-plane file.
///
/// `uic1`: the tag's LONG values, alternating id and value (pass all `2 × count` of them, e.g.
/// from [`read_uic1_values`]; a truncated list yields whatever its pairs hold). `read_at` reads
/// file bytes for the values stored at offsets; `big_endian` is the file's byte order.
pub fn parse_uic1(
    uic1: &[u32],
    read_at: &mut dyn FnMut(u64, usize) -> io::Result<Vec<u8>>,
    big_endian: bool,
) -> MetaMorphInfo {
    parse_uic1_planes(uic1, 1, read_at, big_endian)
}

/// [`parse_uic1`] for STK stacks, whose per-plane ids (stage positions, labels, absolute Z)
/// need the plane count, which is UIC2's TIFF count.
pub fn parse_uic1_planes(
    uic1: &[u32],
    plane_count: usize,
    read_at: &mut dyn FnMut(u64, usize) -> io::Result<Vec<u8>>,
    big_endian: bool,
) -> MetaMorphInfo {
    let mut src = Src {
        read_at,
        big_endian,
    };
    let mut map = Map::new();
    uic1_into(&mut map, uic1, plane_count, &mut src);
    MetaMorphInfo::from_map(map)
}

/// One entry of an IFD, with the absolute file position of its value (inline or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfdEntry {
    pub tag: u16,
    pub field_type: u16,
    pub count: u64,
    pub value_offset: u64,
}

/// Upper bound on entries read from one IFD; real IFDs have a few dozen.
const MAX_IFD_ENTRIES: u64 = 4096;
/// Upper bound on any single read driven by file contents.
const MAX_READ: usize = 64 << 20;
/// Upper bound on UIC records processed, against loops over corrupt data.
const MAX_RECORDS: usize = 1 << 16;

/// Read the raw entries of the IFD at `ifd_offset` (the `tiff` crate does not expose where a
/// value is stored, and the UIC tags need it).
pub fn read_ifd_entries(
    read_at: &mut dyn FnMut(u64, usize) -> io::Result<Vec<u8>>,
    ifd_offset: u64,
    big_endian: bool,
    bigtiff: bool,
) -> io::Result<Vec<IfdEntry>> {
    let mut src = Src {
        read_at,
        big_endian,
    };
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let (count, first, entry_len) = if bigtiff {
        let n = src
            .u64(ifd_offset)
            .ok_or_else(|| bad("IFD entry count unreadable"))?;
        (n, ifd_offset.saturating_add(8), 20u64)
    } else {
        let n = src
            .u16(ifd_offset)
            .ok_or_else(|| bad("IFD entry count unreadable"))?;
        (u64::from(n), ifd_offset.saturating_add(2), 12u64)
    };
    if count > MAX_IFD_ENTRIES {
        return Err(bad("IFD has implausibly many entries"));
    }
    let raw = src
        .bytes(first, (count * entry_len) as usize)
        .ok_or_else(|| bad("IFD entries unreadable"))?;
    let mut out = Vec::with_capacity(count as usize);
    for (i, e) in raw.chunks_exact(entry_len as usize).enumerate() {
        let tag = src.u16_from(&e[0..2]);
        let field_type = src.u16_from(&e[2..4]);
        let (count, value_field, inline_len) = if bigtiff {
            (src.u64_from(&e[4..12]), src.u64_from(&e[12..20]), 8)
        } else {
            (
                u64::from(src.u32_from(&e[4..8])),
                u64::from(src.u32_from(&e[8..12])),
                4,
            )
        };
        let size = type_size(field_type).saturating_mul(count);
        let value_offset = if size <= inline_len {
            first + i as u64 * entry_len + if bigtiff { 12 } else { 8 }
        } else {
            value_field
        };
        out.push(IfdEntry {
            tag,
            field_type,
            count,
            value_offset,
        });
    }
    Ok(out)
}

fn type_size(field_type: u16) -> u64 {
    match field_type {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => 1,
    }
}

/// All `2 × count` LONGs of UIC1 (tag 33628) of the IFD at `ifd_offset`, or `None` without
/// the tag. Use this rather than `Decoder::get_tag_u32_vec`, which stops at `count`.
pub fn read_uic1_values(
    read_at: &mut dyn FnMut(u64, usize) -> io::Result<Vec<u8>>,
    ifd_offset: u64,
    big_endian: bool,
    bigtiff: bool,
) -> Option<Vec<u32>> {
    let entries = read_ifd_entries(read_at, ifd_offset, big_endian, bigtiff).ok()?;
    let e = entries.iter().find(|e| e.tag == UIC1)?;
    let mut src = Src {
        read_at,
        big_endian,
    };
    src.u32s(
        e.value_offset,
        usize::try_from(e.count).ok()?.checked_mul(2)?,
    )
}

const UIC1: u16 = 33628;
const UIC2: u16 = 33629;
const UIC3: u16 = 33630;
const UIC4: u16 = 33631;

/// Everything tifffile's `stk_metadata` gathers from the IFD at `ifd_offset` (normally the
/// first; `Decoder::ifd_pointer()` gives it): UIC1, then UIC3 wavelengths, then UIC4 overriding
/// UIC1, then UIC2 Z distances and dates. `None` when the IFD has no UIC1 tag (not MetaMorph)
/// or cannot be read.
pub fn read_stk_metadata(
    read_at: &mut dyn FnMut(u64, usize) -> io::Result<Vec<u8>>,
    ifd_offset: u64,
    big_endian: bool,
    bigtiff: bool,
) -> Option<MetaMorphInfo> {
    let entries = read_ifd_entries(read_at, ifd_offset, big_endian, bigtiff).ok()?;
    let find = |tag: u16| entries.iter().find(|e| e.tag == tag).copied();
    let uic1 = find(UIC1)?;
    let uic2 = find(UIC2);
    let plane_count = uic2.map_or(1, |e| usize::try_from(e.count).unwrap_or(usize::MAX));
    let mut src = Src {
        read_at,
        big_endian,
    };
    let mut map = Map::new();
    map.insert("NumberPlanes".into(), Value::from(plane_count));

    let pairs = usize::try_from(uic1.count).unwrap_or(usize::MAX);
    match uic1.field_type {
        4 => {
            if let Some(values) = pairs
                .checked_mul(2)
                .and_then(|n| src.u32s(uic1.value_offset, n))
            {
                uic1_into(&mut map, &values, plane_count, &mut src);
            }
        }
        5 => {
            // Before MetaMorph 2.5 UIC1 held only Z distances.
            if let Some(values) = pairs
                .checked_mul(2)
                .and_then(|n| src.u32s(uic1.value_offset, n))
            {
                map.insert("ZDistance".into(), fractions(&values));
            }
        }
        _ => {}
    }
    if let Some(e) = find(UIC3).filter(|e| e.field_type == 5)
        && let Some(values) = usize::try_from(e.count)
            .ok()
            .and_then(|n| n.checked_mul(2))
            .and_then(|n| src.u32s(e.value_offset, n))
    {
        map.insert("Wavelengths".into(), fractions(&values));
    }
    if let Some(e) = find(UIC4).filter(|e| e.field_type == 4) {
        let planes = usize::try_from(e.count).unwrap_or(usize::MAX);
        uic4_into(&mut map, e.value_offset, planes, &mut src);
    }
    if let Some(e) = uic2.filter(|e| e.field_type == 5)
        && let Some(values) = plane_count
            .checked_mul(6)
            .and_then(|n| src.u32s(e.value_offset, n))
    {
        let rows: Vec<&[u32]> = values.chunks_exact(6).collect();
        let z: Vec<u32> = rows.iter().flat_map(|r| [r[0], r[1]]).collect();
        map.insert("ZDistance".into(), fractions(&z));
        let dates = |d: usize, t: usize| {
            Value::Array(
                rows.iter()
                    .map(|r| julian_datetime(r[d], r[t]).map_or(Value::Null, Value::String))
                    .collect(),
            )
        };
        map.insert("DatetimeCreated".into(), dates(2, 3));
        map.insert("DatetimeModified".into(), dates(4, 5));
    }
    Some(MetaMorphInfo::from_map(map))
}

impl MetaMorphInfo {
    fn from_map(mut map: Map<String, Value>) -> Self {
        let mut take_f64 = |key: &str| map.shift_remove(key).and_then(|v| v.as_f64());
        let x_calibration = take_f64("XCalibration");
        let y_calibration = take_f64("YCalibration");
        let mut take_str = |key: &str| match map.shift_remove(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let calibration_units = take_str("CalibrationUnits");
        let name = take_str("Name");
        MetaMorphInfo {
            x_calibration,
            y_calibration,
            calibration_units,
            name,
            other: map,
        }
    }
}

/// How a UIC id's value is stored (tifffile's `TIFF.UIC_TAGS` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The value itself.
    Int,
    /// Undocumented: kept as the raw integer under a `_` name.
    Skip,
    Fraction,
    /// Julian day number and milliseconds since midnight.
    Julian,
    /// u32 length, then that many bytes (NUL-terminated).
    Str,
    /// An ImagePropertyEx record.
    Property,
    /// One length-prefixed string per plane.
    StrPerPlane,
    /// Per plane: two fractions (x, y).
    FractionPairPerPlane,
    /// Per plane: one fraction.
    FractionPerPlane,
    /// Per plane: one u32.
    IntPerPlane,
    /// One u32 stored at the offset.
    U32,
    /// Two u32 stored at the offset.
    U32Pair,
    /// 256 × 3 bytes of lookup table (kept as its size only).
    Lut,
}

const UIC_TAGS: [(&str, Kind); 66] = {
    use Kind::*;
    [
        ("AutoScale", Int),
        ("MinScale", Int),
        ("MaxScale", Int),
        ("SpatialCalibration", Int),
        ("XCalibration", Fraction),
        ("YCalibration", Fraction),
        ("CalibrationUnits", Str),
        ("Name", Str),
        ("ThreshState", Int),
        ("ThreshStateRed", Int),
        ("tagid_10", Skip),
        ("ThreshStateGreen", Int),
        ("ThreshStateBlue", Int),
        ("ThreshStateLo", Int),
        ("ThreshStateHi", Int),
        ("Zoom", Int),
        ("CreateTime", Julian),
        ("LastSavedTime", Julian),
        ("currentBuffer", Int),
        ("grayFit", Skip),
        ("grayPointCount", Skip),
        ("grayX", Fraction),
        ("grayY", Fraction),
        ("grayMin", Fraction),
        ("grayMax", Fraction),
        ("grayUnitName", Str),
        ("StandardLUT", Int),
        ("wavelength", Int),
        ("StagePosition", FractionPairPerPlane),
        ("CameraChipOffset", FractionPairPerPlane),
        ("OverlayMask", Skip),
        ("OverlayCompress", Skip),
        ("Overlay", Skip),
        ("SpecialOverlayMask", Skip),
        ("SpecialOverlayCompress", Skip),
        ("SpecialOverlay", Skip),
        ("ImageProperty", Property),
        ("StageLabel", StrPerPlane),
        ("AutoScaleLoInfo", Fraction),
        ("AutoScaleHiInfo", Fraction),
        ("AbsoluteZ", FractionPerPlane),
        ("AbsoluteZValid", IntPerPlane),
        ("Gamma", U32),
        ("GammaRed", U32),
        ("GammaGreen", U32),
        ("GammaBlue", U32),
        ("CameraBin", U32Pair),
        ("NewLUT", Int),
        ("ImagePropertyEx", Skip),
        ("PlaneProperty", Int),
        ("UserLutTable", Lut),
        ("RedAutoScaleInfo", Int),
        ("RedAutoScaleLoInfo", Fraction),
        ("RedAutoScaleHiInfo", Fraction),
        ("RedMinScaleInfo", Int),
        ("RedMaxScaleInfo", Int),
        ("GreenAutoScaleInfo", Int),
        ("GreenAutoScaleLoInfo", Fraction),
        ("GreenAutoScaleHiInfo", Fraction),
        ("GreenMinScaleInfo", Int),
        ("GreenMaxScaleInfo", Int),
        ("BlueAutoScaleInfo", Int),
        ("BlueAutoScaleLoInfo", Fraction),
        ("BlueAutoScaleHiInfo", Fraction),
        ("BlueMinScaleInfo", Int),
        ("BlueMaxScaleInfo", Int),
    ]
};

const ID_PLANE_PROPERTY: u32 = 49;

struct Src<'a, 'b> {
    read_at: &'a mut (dyn FnMut(u64, usize) -> io::Result<Vec<u8>> + 'b),
    big_endian: bool,
}

impl Src<'_, '_> {
    fn bytes(&mut self, offset: u64, len: usize) -> Option<Vec<u8>> {
        if len > MAX_READ {
            return None;
        }
        if len == 0 {
            return Some(Vec::new());
        }
        let mut v = (self.read_at)(offset, len).ok()?;
        if v.len() < len {
            return None;
        }
        v.truncate(len);
        Some(v)
    }

    fn u16_from(&self, b: &[u8]) -> u16 {
        let b = [b[0], b[1]];
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32_from(&self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn u64_from(&self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        if self.big_endian {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        }
    }

    fn u16(&mut self, offset: u64) -> Option<u16> {
        let b = self.bytes(offset, 2)?;
        Some(self.u16_from(&b))
    }

    fn u32(&mut self, offset: u64) -> Option<u32> {
        let b = self.bytes(offset, 4)?;
        Some(self.u32_from(&b))
    }

    fn u64(&mut self, offset: u64) -> Option<u64> {
        let b = self.bytes(offset, 8)?;
        Some(self.u64_from(&b))
    }

    fn u32s(&mut self, offset: u64, n: usize) -> Option<Vec<u32>> {
        let b = self.bytes(offset, n.checked_mul(4)?)?;
        Some(b.chunks_exact(4).map(|c| self.u32_from(c)).collect())
    }
}

fn fraction(num: u32, den: u32) -> Value {
    if den == 0 {
        return Value::Null;
    }
    Number::from_f64(f64::from(num) / f64::from(den)).map_or(Value::Null, Value::Number)
}

/// Pairs (numerator, denominator) as a list of numbers.
fn fractions(values: &[u32]) -> Value {
    Value::Array(
        values
            .chunks_exact(2)
            .map(|p| fraction(p[0], p[1]))
            .collect(),
    )
}

/// tifffile's `julian_datetime`, as ISO 8601 without time zone (MetaMorph stores local time).
fn julian_datetime(julian_day: u32, millisecond: u32) -> Option<String> {
    if julian_day <= 1_721_423 {
        return None;
    }
    // MetaMorph counts one less than the astronomical Julian day number (tifffile adds 1), so
    // 2_440_587 is 1970-01-01. Dates before 1582 would differ from tifffile's Julian-calendar
    // arithmetic; no microscope wrote those.
    let days = i32::try_from(i64::from(julian_day) - 1_721_424).ok()?;
    let date = chrono::NaiveDate::from_num_days_from_ce_opt(days)?;
    let ms = millisecond;
    let time = chrono::NaiveTime::from_hms_milli_opt(
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
    )?;
    Some(
        date.and_time(time)
            .format("%Y-%m-%dT%H:%M:%S%.3f")
            .to_string(),
    )
}

/// Bytes up to the first NUL, as UTF-8 or else Latin-1 (tifffile falls back to cp1252).
fn bytes_to_string(b: &[u8]) -> String {
    let b = b.split(|&c| c == 0).next().unwrap_or_default();
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| char::from(c)).collect(),
    }
}

/// A length-prefixed string at `pos`: `(value, bytes consumed)`. tifffile drops the last byte
/// (the terminator) and then cuts at the first NUL; lengths ≥ 1024 are invalid.
fn pascal_string(src: &mut Src, pos: u64) -> Option<(String, u64)> {
    let size = src.u32(pos)?;
    if size >= 1024 {
        return None;
    }
    let b = src.bytes(pos + 4, size as usize)?;
    let s = bytes_to_string(&b[..b.len().saturating_sub(1)]);
    Some((s, 4 + u64::from(size)))
}

/// An ImagePropertyEx / PlaneProperty record at `pos`: `({name, flags, value}, consumed)`.
fn property(src: &mut Src, pos: u64) -> Option<(Value, u64)> {
    let name_len = u64::from(*src.bytes(pos, 1)?.first()?);
    let name = bytes_to_string(&src.bytes(pos + 1, name_len as usize)?);
    let mut at = pos + 1 + name_len;
    let flags = src.u32(at)?;
    let kind = *src.bytes(at + 4, 1)?.first()?;
    at += 5;
    let value = if kind == 1 {
        let v = src.u32s(at, 2)?;
        at += 8;
        fraction(v[0], v[1])
    } else {
        let len = u64::from(*src.bytes(at, 1)?.first()?);
        let s = bytes_to_string(&src.bytes(at + 1, len as usize)?);
        at += 1 + len;
        Value::String(s)
    };
    let mut m = Map::new();
    m.insert("name".into(), Value::String(name));
    m.insert("flags".into(), Value::from(flags));
    m.insert("value".into(), value);
    Some((Value::Object(m), at - pos))
}

/// Reads a value of `kind` whose data starts at `pos`: `(value, bytes consumed)`.
fn read_kind(src: &mut Src, kind: Kind, pos: u64, planes: usize) -> Option<(Value, u64)> {
    let plane_u64 = u64::try_from(planes).ok()?;
    Some(match kind {
        Kind::Int | Kind::Skip | Kind::U32 => (Value::from(src.u32(pos)?), 4),
        Kind::Fraction => {
            let v = src.u32s(pos, 2)?;
            (fraction(v[0], v[1]), 8)
        }
        Kind::Julian => {
            let v = src.u32s(pos, 2)?;
            (
                julian_datetime(v[0], v[1]).map_or(Value::Null, Value::String),
                8,
            )
        }
        Kind::Str => {
            let (s, n) = pascal_string(src, pos)?;
            (Value::String(s), n)
        }
        Kind::Property => property(src, pos)?,
        Kind::StrPerPlane => {
            let mut out = Vec::new();
            let mut at = pos;
            for _ in 0..planes.min(MAX_RECORDS) {
                let (s, n) = pascal_string(src, at)?;
                out.push(Value::String(s));
                at += n;
            }
            (Value::Array(out), at - pos)
        }
        Kind::FractionPairPerPlane => {
            let v = src.u32s(pos, planes.checked_mul(4)?)?;
            let rows = v
                .chunks_exact(4)
                .map(|r| Value::Array(vec![fraction(r[0], r[1]), fraction(r[2], r[3])]))
                .collect();
            (Value::Array(rows), plane_u64 * 16)
        }
        Kind::FractionPerPlane => {
            let v = src.u32s(pos, planes.checked_mul(2)?)?;
            (fractions(&v), plane_u64 * 8)
        }
        Kind::IntPerPlane => {
            let v = src.u32s(pos, planes)?;
            (
                Value::Array(v.into_iter().map(Value::from).collect()),
                plane_u64 * 4,
            )
        }
        Kind::U32Pair => {
            let v = src.u32s(pos, 2)?;
            (Value::Array(vec![v[0].into(), v[1].into()]), 8)
        }
        Kind::Lut => {
            src.bytes(pos, 768)?;
            let mut m = Map::new();
            m.insert("byte_count".into(), Value::from(768));
            (Value::Object(m), 768)
        }
    })
}

fn per_plane(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::StrPerPlane | Kind::FractionPairPerPlane | Kind::FractionPerPlane | Kind::IntPerPlane
    )
}

fn uic1_into(map: &mut Map<String, Value>, uic1: &[u32], planes: usize, src: &mut Src) {
    for pair in uic1.chunks_exact(2).take(MAX_RECORDS) {
        let (id, value) = (pair[0], pair[1]);
        let Some(&(name, kind)) = usize::try_from(id).ok().and_then(|i| UIC_TAGS.get(i)) else {
            map.insert(format!("_TagId{id}"), Value::from(value));
            continue;
        };
        if planes > 1 && matches!(id, 28 | 29 | 37 | 40 | 41) {
            // tifffile: these are not per-plane in UIC1 of stacks; skipped silently.
            continue;
        }
        match kind {
            Kind::Int if id == ID_PLANE_PROPERTY => {
                if let Some((v, _)) = property(src, u64::from(value) + 4) {
                    if let Some(Value::Array(list)) = map.get_mut("PlaneProperty") {
                        list.push(v);
                    } else {
                        map.insert("PlaneProperty".into(), Value::Array(vec![v]));
                    }
                }
            }
            Kind::Int => {
                map.insert(name.into(), Value::from(value));
            }
            Kind::Skip => {
                map.insert(format!("_{name}"), Value::from(value));
            }
            _ if value < 8 => {
                // Not an offset: undocumented small values; tifffile keeps them as they are.
                let v = if kind == Kind::Str {
                    Value::String(String::new())
                } else {
                    Value::from(value)
                };
                map.insert(name.into(), v);
            }
            _ => {
                if per_plane(kind) && planes == 0 {
                    map.insert(name.into(), Value::Null);
                } else if let Some((v, _)) = read_kind(src, kind, u64::from(value), planes) {
                    map.insert(name.into(), v);
                }
            }
        }
    }
}

fn uic4_into(map: &mut Map<String, Value>, offset: u64, planes: usize, src: &mut Src) {
    let mut pos = offset;
    for _ in 0..MAX_RECORDS {
        let Some(id) = src.u16(pos) else {
            return;
        };
        if id == 0 {
            return;
        }
        pos += 2;
        let Some(&(name, kind)) = UIC_TAGS.get(usize::from(id)) else {
            match src.u32(pos) {
                Some(v) => map.insert(format!("_TagId{id}"), Value::from(v)),
                None => return,
            };
            pos += 4;
            continue;
        };
        if per_plane(kind) && planes == 0 {
            map.insert(name.into(), Value::Null);
            continue;
        }
        let Some((value, consumed)) = read_kind(src, kind, pos, planes) else {
            // The stream has no record lengths: after an unreadable value nothing is aligned.
            return;
        };
        let key = if kind == Kind::Skip {
            format!("_{name}")
        } else {
            name.to_string()
        };
        map.insert(key, value);
        pos = pos.saturating_add(consumed);
    }
}
