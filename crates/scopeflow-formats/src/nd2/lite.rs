//! Nikon's binary "CLX lite variant" metadata encoding (the `…LV!` chunks), decoded to JSON.
//! Encoding as documented by the `nd2` Python package (BSD-3, `_parse/_clx_lite.py`): each item
//! is a type byte, a name length (UTF-16 code units, NUL included), the UTF-16 name, then the
//! value; a "level" holds nested items followed by a table of their offsets.

use std::io::Read;

use serde_json::{Map, Value};

/// Nesting deeper than this is not real metadata; refusing it keeps the stack bounded.
const MAX_DEPTH: usize = 64;
/// Byte arrays longer than this are summarised by their length (camera LUTs and the like).
const MAX_INLINE_BYTES: usize = 4096;

const BOOL: u8 = 1;
const INT32: u8 = 2;
const UINT32: u8 = 3;
const INT64: u8 = 4;
const UINT64: u8 = 5;
const DOUBLE: u8 = 6;
const VOID_POINTER: u8 = 7;
const STRING: u8 = 8;
const BYTE_ARRAY: u8 = 9;
const LEVEL: u8 = 11;
const COMPRESSED: u8 = 76;

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| format!("metadata item cut short at byte {}", self.pos))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

/// Decodes one lite-variant chunk; `max_inflated` bounds a compressed chunk's inflated size.
pub(super) fn decode(data: &[u8], max_inflated: u64) -> Result<Map<String, Value>, String> {
    let mut cur = Cursor { data, pos: 0 };
    // A chunk holds one root item (the nd2 package ignores anything after it).
    items(&mut cur, 1, 0, max_inflated)
}

fn utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

fn items(
    cur: &mut Cursor,
    count: usize,
    depth: usize,
    max_inflated: u64,
) -> Result<Map<String, Value>, String> {
    if depth > MAX_DEPTH {
        return Err("metadata nested too deeply".into());
    }
    let mut out = Map::new();
    for _ in 0..count {
        let start = cur.pos;
        if start >= cur.data.len() {
            break;
        }
        let [kind, name_len] = cur.array::<2>()?;
        if kind == COMPRESSED {
            // Ten bytes of header, then a zlib stream holding the real items.
            cur.take(10)?;
            let rest = cur.take(cur.data.len() - cur.pos)?;
            let mut inflated = Vec::new();
            flate2::read::ZlibDecoder::new(rest)
                .take(max_inflated + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| format!("compressed metadata: {e}"))?;
            if inflated.len() as u64 > max_inflated {
                return Err("compressed metadata inflates implausibly large".into());
            }
            let mut inner = Cursor {
                data: &inflated,
                pos: 0,
            };
            return items(&mut inner, 1, depth + 1, max_inflated);
        }
        let name = utf16(cur.take(usize::from(name_len) * 2)?);
        let value = match kind {
            BOOL => Value::Bool(cur.array::<1>()?[0] != 0),
            INT32 => i32::from_le_bytes(cur.array()?).into(),
            UINT32 => u32::from_le_bytes(cur.array()?).into(),
            INT64 => i64::from_le_bytes(cur.array()?).into(),
            UINT64 | VOID_POINTER => u64::from_le_bytes(cur.array()?).into(),
            DOUBLE => {
                let v = f64::from_le_bytes(cur.array()?);
                serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
            }
            STRING => string(cur)?,
            BYTE_ARRAY => {
                let n = usize::try_from(u64::from_le_bytes(cur.array()?))
                    .map_err(|_| "byte array too long".to_string())?;
                let bytes = cur.take(n)?;
                if n <= MAX_INLINE_BYTES {
                    bytes.iter().map(|&b| Value::from(b)).collect()
                } else {
                    format!("<{n} bytes>").into()
                }
            }
            LEVEL => {
                let item_count = u32::from_le_bytes(cur.array()?) as usize;
                let length = u64::from_le_bytes(cur.array()?);
                let body_len = usize::try_from(length)
                    .ok()
                    .and_then(|l| l.checked_sub(cur.pos - start))
                    .ok_or_else(|| format!("bad level length at byte {start}"))?;
                let body = cur.take(body_len)?;
                // Then one 8-byte offset per item, which the sequential decoding does not need.
                cur.take(item_count.saturating_mul(8))?;
                let mut inner = Cursor { data: body, pos: 0 };
                let level = items(&mut inner, item_count, depth + 1, max_inflated)?;
                list_or_map(level)
            }
            other => {
                return Err(format!(
                    "unknown metadata item type {other} at byte {start}"
                ));
            }
        };
        insert(&mut out, name, value);
    }
    Ok(out)
}

/// Items without a name are list elements.
fn insert(out: &mut Map<String, Value>, name: String, value: Value) {
    if name.is_empty() {
        match out.get_mut("") {
            Some(Value::Array(list)) => list.push(value),
            Some(_) | None => {
                let first = out.remove("");
                let mut list: Vec<Value> = first.into_iter().collect();
                list.push(value);
                out.insert(String::new(), Value::Array(list));
            }
        }
    } else {
        out.insert(name, value);
    }
}

fn list_or_map(level: Map<String, Value>) -> Value {
    if level.len() == 1
        && let Some(list) = level.get("")
    {
        return list.clone();
    }
    Value::Object(level)
}

/// A NUL-terminated UTF-16 string.
fn string(cur: &mut Cursor) -> Result<Value, String> {
    let mut units = Vec::new();
    loop {
        let u = u16::from_le_bytes(cur.array()?);
        if u == 0 {
            break;
        }
        units.push(u);
    }
    Ok(String::from_utf16_lossy(&units).into())
}
