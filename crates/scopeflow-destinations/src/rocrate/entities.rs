//! Contextual entities (people, licence, formats, instruments, software), each written once
//! however many files refer to it; files refer to them by `@id`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

#[derive(Default)]
pub(super) struct Entities {
    /// By `@id`; data entities and contextual ones alike, in `@id` order for stable output.
    by_id: BTreeMap<String, Value>,
}

/// PRONOM's identifier of TIFF, the container of every TIFF flavour scopeflow reads.
const PRONOM_TIFF: &str = "https://www.nationalarchives.gov.uk/PRONOM/fmt/353";

impl Entities {
    /// Adds `entity` unless one with its `@id` is there.
    pub fn add(&mut self, entity: Value) {
        let Some(id) = entity["@id"].as_str().map(str::to_owned) else {
            return;
        };
        self.by_id.entry(id).or_insert(entity);
    }

    pub fn into_values(self) -> impl Iterator<Item = Value> {
        self.by_id.into_values()
    }

    fn reference(&mut self, entity: Value) -> Value {
        let id = entity["@id"].clone();
        self.add(entity);
        json!({"@id": id})
    }

    pub fn software(&mut self) -> Value {
        self.reference(json!({
            "@id": "#scopeflow",
            "@type": "SoftwareApplication",
            "name": "scopeflow",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Microscopy data pipeline: metadata, QC, OME-Zarr conversion, verified transfer",
        }))
    }

    pub fn license(&mut self, spdx: &str) -> Value {
        self.reference(json!({
            "@id": format!("https://spdx.org/licenses/{spdx}"),
            "@type": "CreativeWork",
            "name": spdx,
            "identifier": spdx,
        }))
    }

    pub fn contact(&mut self, contact: &str) -> Value {
        let email = contact.contains('@') && !contact.contains(' ');
        let id = if email {
            format!("mailto:{contact}")
        } else {
            format!("#contact-{}", slug(contact))
        };
        let mut e = json!({"@id": id, "@type": "ContactPoint", "contactType": "data steward"});
        if email {
            e["email"] = json!(contact);
        } else {
            e["name"] = json!(contact);
        }
        self.reference(e)
    }

    pub fn organization(&mut self, name: &str) -> Value {
        self.reference(json!({
            "@id": format!("#org-{}", slug(name)),
            "@type": "Organization",
            "name": name,
        }))
    }

    /// `user` is the folder name; `name` the person's name when the pipeline maps it.
    pub fn person(&mut self, user: &str, name: Option<&String>) -> Value {
        self.reference(json!({
            "@id": format!("#user-{}", slug(user)),
            "@type": "Person",
            "name": name.map_or(user, String::as_str),
        }))
    }

    pub fn instrument(&mut self, name: &str) -> Value {
        self.reference(json!({
            "@id": format!("#instrument-{}", slug(name)),
            "@type": "IndividualProduct",
            "name": name,
        }))
    }

    pub fn eln_experiment(&mut self, url: &str) -> Value {
        self.reference(json!({
            "@id": url,
            "@type": "CreativeWork",
            "name": "Experiment in the electronic lab notebook",
            "url": url,
        }))
    }

    /// A media type, plus PRONOM's format record where one fits every file of that reader.
    pub fn encoding_format(&mut self, format: &str, raw: &str) -> Value {
        let lower = raw.to_ascii_lowercase();
        let tiff = format.contains("tiff")
            || [".tif", ".tiff", ".btf", ".tf8"]
                .iter()
                .any(|e| lower.ends_with(e));
        if tiff {
            let pronom = self.reference(json!({
                "@id": PRONOM_TIFF,
                "@type": "WebSite",
                "name": "Tagged Image File Format (PRONOM fmt/353)",
            }));
            return json!(["image/tiff", pronom]);
        }
        let mime = match format {
            "png" => "image/png",
            "jpeg" => "image/jpeg",
            "bmp" => "image/bmp",
            _ => "application/octet-stream",
        };
        json!(mime)
    }
}

/// The microscope the image's metadata names (`inspect.instrument`), when the reader found one.
pub(super) fn instrument_name(inspect: &Value) -> Option<String> {
    let instrument = &inspect["instrument"];
    let mic = &instrument["microscope"];
    let words: Vec<&str> = ["manufacturer", "model"]
        .iter()
        .filter_map(|k| mic[*k].as_str())
        .filter(|s| !s.trim().is_empty())
        .collect();
    if words.is_empty() {
        instrument["id"].as_str().map(str::to_owned)
    } else {
        Some(words.join(" "))
    }
}

/// A fragment identifier from any text: letters and digits, the rest as `-`.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
