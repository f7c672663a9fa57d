//! The XML "CLx variant" metadata encoding of older NIS-Elements files, decoded to the same
//! JSON shape as the lite variant. Semantics as the `nd2` Python package (BSD-3,
//! `_parse/_clx_xml.py`) reads them: an element with a known `runtype` is a scalar held in its
//! `value` attribute; any other element is a map of its children; list items are named
//! `no_name` (and a few others) and keyed `i0000000000`, `i0000000001`, … by position, and
//! empty list items are skipped.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 64;
const MAX_INLINE_BYTES: usize = 4096;
const LIST_ITEMS: [&str; 7] = [
    "no_name",
    "",
    "BinaryItem",
    "TextInfoItem",
    "Wavelength",
    "MinSrc",
    "MaxSrc",
];

struct Node {
    name: String,
    /// `Some` for a scalar element: its children are ignored.
    scalar: Option<Value>,
    map: Map<String, Value>,
    children: usize,
}

/// Text of an XML chunk: UTF-8, or UTF-16LE when it holds NULs between ASCII characters.
fn text(data: &[u8]) -> String {
    let utf16 = data.len() > 1 && data[1] == 0;
    let s = if utf16 {
        let units: Vec<u16> = data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(data).into_owned()
    };
    s.trim_end_matches('\0').to_string()
}

fn cast(runtype: &str, value: &str) -> Option<Value> {
    Some(match runtype {
        "bool" => matches!(value.to_ascii_lowercase().as_str(), "true" | "1").into(),
        "CLxStringW" | "unknown" => value.into(),
        "double" | "float" => value
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        "lx_int32" | "lx_int64" => value.trim().parse::<i64>().map_or(Value::Null, Value::from),
        "lx_uint32" | "lx_uint64" => value.trim().parse::<u64>().map_or(Value::Null, Value::from),
        "CLxByteArray" if value.len() <= MAX_INLINE_BYTES => {
            value.bytes().map(Value::from).collect()
        }
        "CLxByteArray" => format!("<{} bytes>", value.len()).into(),
        _ => return None,
    })
}

fn open(e: &BytesStart, legacy: bool) -> Result<Node, String> {
    let name = e.name().as_ref().to_string();
    let mut attrs = Map::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("malformed XML attribute: {err}"))?;
        let key = a.key.as_ref().to_string();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("malformed XML attribute {key}: {err}"))?;
        attrs.insert(key, Value::String(value.into_owned()));
    }
    let runtype = attrs.get("runtype").and_then(Value::as_str).unwrap_or("");
    let value = attrs.get("value").and_then(Value::as_str).unwrap_or("");
    let scalar = cast(runtype, value);
    Ok(Node {
        name,
        scalar,
        map: if legacy { attrs } else { Map::new() },
        children: 0,
    })
}

fn falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

fn close(stack: &mut [Node], node: Node) -> Option<(String, Value)> {
    let value = node.scalar.unwrap_or(Value::Object(node.map));
    let Some(parent) = stack.last_mut() else {
        return Some((node.name, value));
    };
    let index = parent.children;
    parent.children += 1;
    if parent.scalar.is_some() {
        return None;
    }
    let key = if LIST_ITEMS.contains(&node.name.as_str()) {
        if falsy(&value) {
            return None;
        }
        format!("i{index:010}")
    } else {
        node.name
    };
    parent.map.insert(key, value);
    None
}

/// Decodes one XML-variant chunk to a map (the root `<variant>` removed).
pub(super) fn decode(data: &[u8]) -> Result<Map<String, Value>, String> {
    let xml = text(data);
    let mut reader = crate::xml::reader(&xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut legacy = false;
    let root = loop {
        let event = crate::xml::next_event(&mut reader, "XML")?;
        let done = match event {
            Event::Start(e) | Event::Empty(e) if stack.len() >= MAX_DEPTH => {
                return Err(format!(
                    "XML nested deeper than {MAX_DEPTH} at <{:?}>",
                    e.name()
                ));
            }
            Event::Start(e) => {
                if stack.is_empty() {
                    legacy = e
                        .try_get_attribute("_VERSION")
                        .ok()
                        .flatten()
                        .is_some_and(|a| a.value.as_ref() == "1.000000");
                }
                stack.push(open(&e, legacy)?);
                None
            }
            Event::Empty(e) => {
                let node = open(&e, legacy)?;
                close(&mut stack, node)
            }
            Event::End(_) => match stack.pop() {
                Some(node) => close(&mut stack, node),
                None => return Err("unbalanced XML".into()),
            },
            Event::Eof => return Err("XML ends before its root element closes".into()),
            _ => None,
        };
        if let Some(root) = done {
            break root;
        }
    };
    let (name, mut value) = root;
    if let Value::Object(m) = &mut value
        && m.len() == 1
        && let Some(inner) = m.remove("i0000000000")
    {
        value = inner;
    }
    match (name.as_str(), value) {
        ("variant", Value::Object(m)) => Ok(m),
        ("variant", _) => Err("the XML variant holds no map".into()),
        (_, v) => Ok(Map::from_iter([(name, v)])),
    }
}
