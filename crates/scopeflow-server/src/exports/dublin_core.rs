//! Simple Dublin Core as OAI-PMH's `oai_dc` format: what every repository harvester reads.
//! Text is escaped by quick-xml; characters XML 1.0 cannot carry at all (control characters
//! a file name may hold) become U+FFFD, so the record always parses.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::datacite::publisher;
use super::describe::{Described, Kind};

const OAI_DC: &str = "http://www.openarchives.org/OAI/2.0/oai_dc/";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const SCHEMA_LOCATION: &str =
    "http://www.openarchives.org/OAI/2.0/oai_dc/ http://www.openarchives.org/OAI/2.0/oai_dc.xsd";

pub fn render(d: &Described) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to a Vec cannot fail.
    let _ = write(&mut w, d);
    let mut xml = String::from_utf8(w.into_inner()).unwrap_or_default();
    xml.push('\n');
    xml
}

fn write(w: &mut Writer<Vec<u8>>, d: &Described) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("oai_dc:dc")
        .with_attributes([
            ("xmlns:oai_dc", OAI_DC),
            ("xmlns:dc", DC),
            ("xmlns:xsi", XSI),
            ("xsi:schemaLocation", SCHEMA_LOCATION),
        ])
        .write_inner_content(|w| {
            for (name, value) in elements(d) {
                w.create_element(name)
                    .write_text_content(BytesText::new(&xml_safe(&value)))?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The elements in the order of the DCMES (title, creator, subject, description, publisher,
/// contributor, date, type, format, identifier, source, language, relation, coverage, rights);
/// `language` never applies to images, so it is never written.
fn elements(d: &Described) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = vec![("dc:title", d.title.clone())];
    let many = |out: &mut Vec<(&'static str, String)>, name, values: &[String]| {
        out.extend(values.iter().map(|v| (name, v.clone())));
    };
    many(&mut out, "dc:title", &d.other_titles);
    let creators = if d.creators.is_empty() {
        &d.contacts
    } else {
        &d.creators
    };
    many(&mut out, "dc:creator", creators);
    many(&mut out, "dc:subject", &d.keywords);
    many(&mut out, "dc:description", &d.descriptions);
    many(&mut out, "dc:description", &d.methods);
    many(&mut out, "dc:description", &d.technical);
    out.push(("dc:publisher", publisher(d)));
    many(&mut out, "dc:contributor", &d.contacts);
    if let Some((a, b)) = &d.created {
        out.push(("dc:date", a.clone()));
        if a != b {
            out.push(("dc:date", b.clone()));
        }
    }
    out.push((
        "dc:type",
        match d.kind {
            Kind::File => "Image",
            Kind::Dataset => "Dataset",
        }
        .to_string(),
    ));
    many(&mut out, "dc:format", &d.formats);
    out.push(("dc:format", format!("{} bytes", d.bytes)));
    out.push(("dc:identifier", d.url.clone()));
    if let Some(sha) = &d.sha256 {
        out.push(("dc:identifier", format!("sha256:{sha}")));
    }
    many(&mut out, "dc:source", &d.sources);
    many(&mut out, "dc:relation", &d.eln_urls);
    many(&mut out, "dc:relation", &d.parts);
    if d.kind == Kind::Dataset
        && let Some((a, b)) = &d.created
    {
        // DCMI Period: the time the set's acquisitions cover.
        out.push(("dc:coverage", format!("start={a}; end={b}; scheme=W3C-DTF")));
    }
    for id in &d.licenses {
        out.push(("dc:rights", format!("https://spdx.org/licenses/{id}")));
    }
    out
}

/// `s` with the characters XML 1.0 forbids (C0 controls but tab, LF, CR; U+FFFE, U+FFFF)
/// replaced by U+FFFD.
pub fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}
