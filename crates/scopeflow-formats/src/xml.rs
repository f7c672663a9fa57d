//! The few quick-xml steps every vendor-metadata parser (OME-XML, CZI, LIF, ND2) takes the
//! same way: a reader that ignores a byte-order mark, events whose errors give the byte
//! position, and attributes by local name (namespaces differ between schema years).

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

pub(crate) type Attrs = Vec<(String, String)>;

pub(crate) fn reader(xml: &str) -> Reader<&[u8]> {
    Reader::from_str(xml.strip_prefix('\u{feff}').unwrap_or(xml))
}

/// The next event; `what` names the document in the error ("OME-XML", "XML header").
pub(crate) fn next_event<'a>(
    reader: &mut Reader<&'a [u8]>,
    what: &str,
) -> Result<Event<'a>, String> {
    reader
        .read_event()
        .map_err(|e| format!("malformed {what} at byte {}: {e}", reader.error_position()))
}

/// The element's attributes by local name, `xmlns` declarations left out.
pub(crate) fn attributes(e: &BytesStart) -> Result<Attrs, String> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("malformed XML attribute: {err}"))?;
        let qname = a.key.as_ref();
        if qname == "xmlns" || qname.starts_with("xmlns:") {
            continue;
        }
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("malformed XML attribute {qname}: {err}"))?;
        out.push((a.key.local_name().as_ref().to_string(), value.into_owned()));
    }
    Ok(out)
}

pub(crate) fn get<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
