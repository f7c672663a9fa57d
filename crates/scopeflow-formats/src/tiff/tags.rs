//! Raw tag values of the first page: the text and private tags that carry microscopy metadata.

use std::io::{Read, Seek};

use tiff::decoder::Decoder;
use tiff::tags::{Tag, Type};

/// Upper bound on one tag value we load (OME-XML of a large plate runs to tens of MB).
const MAX_TAG_BYTES: u64 = 256 << 20;

/// Bytes of an ASCII/BYTE/UNDEFINED tag, or `None` when absent or unreadable.
pub(crate) fn raw_bytes<R: Read + Seek>(d: &mut Decoder<R>, tag: Tag) -> Option<Vec<u8>> {
    let mut ifd = d.image_ifd();
    let entry = ifd.find_entry(tag)?;
    // Text and opaque byte tags only: one byte per count.
    if !matches!(
        entry.field_type(),
        Type::ASCII | Type::BYTE | Type::UNDEFINED | Type::SBYTE
    ) {
        return None;
    }
    let len = entry.count();
    if len == 0 || len > MAX_TAG_BYTES {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    let n = ifd.find_tag_bytes(tag, &mut buf, 0).ok()??;
    buf.truncate(n);
    Some(buf)
}

/// Text of an ASCII tag, trimmed at the first NUL; Latin-1 when it is not UTF-8
/// (ImageJ and older acquisition software write `µ` as the single byte 0xB5).
pub(crate) fn text<R: Read + Seek>(d: &mut Decoder<R>, tag: Tag) -> Option<String> {
    let mut bytes = raw_bytes(d, tag)?;
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    let s = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// A RATIONAL tag as f64 (numerator / denominator), `None` when absent or zero.
pub(crate) fn rational<R: Read + Seek>(d: &mut Decoder<R>, tag: Tag) -> Option<(u32, u32)> {
    match d.find_tag(tag).ok()?? {
        tiff::decoder::ifd::Value::Rational(n, den) => Some((n, den)),
        tiff::decoder::ifd::Value::List(v) => match v.first() {
            Some(tiff::decoder::ifd::Value::Rational(n, den)) => Some((*n, *den)),
            _ => None,
        },
        _ => None,
    }
}
