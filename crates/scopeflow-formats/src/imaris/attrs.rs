//! Imaris attribute values. The format stores every value, numbers included, as a 1-D array
//! of one-byte strings (`"128"` is three `H5T_C_S1` elements of size 1), often with a
//! trailing NUL; other writers use ordinary fixed or variable-length strings or numbers.
//! All of them decode to text here, so callers parse one representation.

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{Attribute, Location};

/// More elements than any Imaris value has: a bigger attribute is skipped, not read.
const MAX_CHARS: usize = 1 << 16;
/// Element limit for attributes whose elements are whole strings or numbers.
const MAX_ITEMS: usize = 256;
/// Longest fixed-length string element kept (longer ones are cut, which only metadata sees).
const MAX_FIXED: usize = 1024;

/// Text of attribute `name` on `loc`, `None` when the attribute is absent, too large or of a
/// type that is not text or a number.
pub(super) fn text(loc: &Location, name: &str) -> Option<String> {
    // Opened by name rather than looked up in `attr_names()`: HDF5 1.10's attribute
    // iteration crashes on some corrupt attribute tables that a by-name open reports.
    decode(&loc.attr(name).ok()?)
}

fn decode(attr: &Attribute) -> Option<String> {
    let count = attr.space().ok()?.size();
    let bytes: Vec<u8> = match attr.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::FixedAscii(1) if count <= MAX_CHARS => attr
            .read_raw::<FixedAscii<1>>()
            .ok()?
            .iter()
            .flat_map(|c| c.as_bytes().first().copied().or(Some(0)))
            .collect(),
        TypeDescriptor::FixedUnicode(1) if count <= MAX_CHARS => attr
            .read_raw::<FixedUnicode<1>>()
            .ok()?
            .iter()
            .flat_map(|c| c.as_bytes().first().copied().or(Some(0)))
            .collect(),
        TypeDescriptor::FixedAscii(_) if count <= MAX_ITEMS => join(
            attr.read_raw::<FixedAscii<MAX_FIXED>>()
                .ok()?
                .iter()
                .map(|s| s.as_bytes().to_vec()),
        ),
        TypeDescriptor::FixedUnicode(_) if count <= MAX_ITEMS => join(
            attr.read_raw::<FixedUnicode<MAX_FIXED>>()
                .ok()?
                .iter()
                .map(|s| s.as_bytes().to_vec()),
        ),
        TypeDescriptor::VarLenAscii if count <= MAX_ITEMS => join(
            attr.read_raw::<VarLenAscii>()
                .ok()?
                .iter()
                .map(|s| s.as_bytes().to_vec()),
        ),
        TypeDescriptor::VarLenUnicode if count <= MAX_ITEMS => join(
            attr.read_raw::<VarLenUnicode>()
                .ok()?
                .iter()
                .map(|s| s.as_bytes().to_vec()),
        ),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_)
            if count <= MAX_ITEMS =>
        {
            let values = attr.read_raw::<f64>().ok()?;
            let words: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            words.join(" ").into_bytes()
        }
        _ => return None,
    };
    Some(bytes_to_text(&bytes))
}

fn join(items: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend(item);
    }
    out
}

/// Text up to the first NUL, trimmed. Imaris writes 8-bit text (a unit may be Latin-1 `µm`):
/// bytes that are not UTF-8 are taken as Latin-1 rather than replaced.
pub(super) fn bytes_to_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    text.trim().to_owned()
}

/// A count or size attribute (`ImageSizeX`, `X`): a non-negative integer, possibly written
/// with a fractional part of zeros (`"512.000"`).
pub(super) fn integer(loc: &Location, name: &str) -> Option<u64> {
    let s = text(loc, name)?;
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    let v = s.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 9.0e15).then_some(v as u64)
}

/// A finite real number (`ExtMax0`).
pub(super) fn real(loc: &Location, name: &str) -> Option<f64> {
    text(loc, name)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::bytes_to_text;

    #[test]
    fn text_stops_at_nul_and_keeps_latin1() {
        assert_eq!(bytes_to_text(b"0.100000000\0"), "0.100000000");
        assert_eq!(bytes_to_text(b" um \0junk"), "um");
        assert_eq!(bytes_to_text(&[0xb5, b'm']), "\u{b5}m");
        assert_eq!(bytes_to_text("\u{b5}m".as_bytes()), "\u{b5}m");
    }
}
