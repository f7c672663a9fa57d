//! The crate's JSON-LD from what the journal knows of each verified file.

use std::collections::BTreeMap;

use scopeflow_pipeline::Metadata;
use serde_json::{Map, Value, json};

use super::ROCRATE_FILE;
use super::entities::{self, Entities};

/// One verified raw file and its outputs, with paths relative to the destination root.
#[derive(Clone, Debug, Default)]
pub struct CrateFile {
    /// `raw/REL`.
    pub raw: String,
    pub sha256: String,
    pub size: u64,
    /// `ome-zarr/STEM.ome.zarr`, when the pipeline converts.
    pub zarr: Option<String>,
    /// `qc/STEM.json`.
    pub qc: String,
    /// `qc/STEM.png`, the conversion's thumbnail, when the pipeline converts.
    pub thumbnail: Option<String>,
    /// What the crate uses of the QC document (see [`crate_facts`]), when the journal has it.
    pub qc_doc: Option<Value>,
    /// RFC 3339: when the raw file was last written, i.e. when the acquisition ended.
    pub acquired_at: Option<String>,
    /// The acquiring user: the first folder of the raw file's path.
    pub user: Option<String>,
    /// RFC 3339: when the copy was verified.
    pub verified_at: Option<String>,
}

pub struct CrateInput<'a> {
    /// The pipeline's name: the crate's name when `metadata.project` is not set.
    pub pipeline: &'a str,
    pub metadata: &'a Metadata,
    /// RFC 3339: when the crate is written.
    pub now: &'a str,
}

/// Writes `ro-crate-metadata.json` one entity per line as files are added: memory holds the
/// output, the part ids and the shared entities (people, instruments, licence), never a JSON
/// tree of every file (at 100,000 files that tree took gigabytes).
pub struct CrateWriter<'a> {
    input: &'a CrateInput<'a>,
    ents: Entities,
    software: Value,
    out: Vec<u8>,
    /// The root's `hasPart`, already as JSON text.
    parts: Vec<u8>,
    count: usize,
    own: Vec<Value>,
}

impl<'a> CrateWriter<'a> {
    pub fn new(input: &'a CrateInput<'a>) -> CrateWriter<'a> {
        let mut ents = Entities::default();
        let software = ents.software();
        let mut out = Vec::new();
        out.extend_from_slice(
            b"{\"@context\": \"https://w3id.org/ro/crate/1.1/context\",\n\"@graph\": [\n",
        );
        let descriptor = json!({
            "@id": ROCRATE_FILE,
            "@type": "CreativeWork",
            "conformsTo": {"@id": "https://w3id.org/ro/crate/1.1"},
            "about": {"@id": "./"},
        });
        serde_json::to_writer(&mut out, &descriptor).unwrap_or_default();
        CrateWriter {
            input,
            ents,
            software,
            out,
            parts: Vec::new(),
            count: 0,
            own: Vec::with_capacity(8),
        }
    }

    /// Writes the file's entities at once.
    pub fn add(&mut self, f: &CrateFile) {
        let mut parts = Vec::with_capacity(4);
        file_entities(
            f,
            self.count,
            &self.software,
            &mut self.ents,
            &mut parts,
            &mut self.own,
            &self.input.metadata.users,
        );
        self.count += 1;
        for e in self.own.drain(..) {
            line(&mut self.out, &e);
        }
        for p in parts {
            if !self.parts.is_empty() {
                self.parts.push(b',');
            }
            serde_json::to_writer(&mut self.parts, &p).unwrap_or_default();
        }
    }

    /// The root dataset and the shared entities close the document.
    pub fn finish(mut self) -> Vec<u8> {
        let m = self.input.metadata;
        let ents = &mut self.ents;
        let name = m
            .project
            .clone()
            .unwrap_or_else(|| format!("Images of {}", self.input.pipeline));
        let description = m.description.clone().unwrap_or_else(|| {
            format!(
                "Raw images, OME-Zarr conversions and QC documents delivered by scopeflow pipeline {}",
                self.input.pipeline
            )
        });
        let now = self.input.now;
        let mut root = Map::new();
        root.insert("@id".into(), json!("./"));
        root.insert("@type".into(), json!("Dataset"));
        root.insert("name".into(), json!(name));
        root.insert("description".into(), json!(description));
        root.insert("datePublished".into(), json!(now.get(..10).unwrap_or(now)));
        if let Some(license) = &m.license {
            root.insert("license".into(), ents.license(license));
        }
        if let Some(contact) = &m.contact {
            root.insert("contactPoint".into(), ents.contact(contact));
        }
        if let Some(funder) = &m.funder {
            root.insert("funder".into(), ents.organization(funder));
        }
        if !m.keywords.is_empty() {
            root.insert("keywords".into(), json!(m.keywords.join(", ")));
        }
        let rembi = rembi_properties(m);
        if !rembi.is_empty() {
            root.insert("additionalProperty".into(), Value::Array(rembi));
        }
        // The root is written by hand around `hasPart`, which is already JSON text.
        line(&mut self.out, &Value::Object(root));
        self.out.pop();
        self.out.extend_from_slice(b",\"hasPart\":[");
        self.out.append(&mut self.parts);
        self.out.extend_from_slice(b"]}");
        for e in std::mem::take(&mut self.ents).into_values() {
            line(&mut self.out, &e);
        }
        self.out.extend_from_slice(b"\n]}\n");
        self.out
    }
}

/// The whole document for `files`.
pub fn build(input: &CrateInput<'_>, files: impl IntoIterator<Item = CrateFile>) -> Vec<u8> {
    let mut w = CrateWriter::new(input);
    for f in files {
        w.add(&f);
    }
    w.finish()
}

/// One more entity of the `@graph`, on its own line.
fn line(out: &mut Vec<u8>, v: &Value) {
    out.extend_from_slice(b",\n");
    // Serialising a Value to memory cannot fail.
    serde_json::to_writer(&mut *out, v).unwrap_or_default();
}

/// The parts of a QC document the crate uses (format, instrument, description, notebook link,
/// naming verdict), so a caller holding many files keeps kilobytes less per file.
pub fn crate_facts(doc: &Value) -> Value {
    let inspect = &doc["inspect"];
    let metadata = &doc["metadata"];
    let rules: Vec<Value> = doc["naming"]["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| json!({"rule": p["rule"]}))
        .collect();
    let mut facts = json!({
        "inspect": {"format": inspect["format"], "instrument": inspect["instrument"]},
        "metadata": {"description": metadata["description"], "eln_url": metadata["eln_url"]},
    });
    if doc["naming"].is_object() {
        facts["naming"] = json!({"problems": rules});
    }
    facts
}

/// The raw file, its outputs and the action that made them; `parts` gets the data entities.
fn file_entities(
    f: &CrateFile,
    i: usize,
    software: &Value,
    ents: &mut Entities,
    parts: &mut Vec<Value>,
    own: &mut Vec<Value>,
    users: &BTreeMap<String, String>,
) {
    let raw_id = encode_id(&f.raw);
    let mut raw = Map::new();
    raw.insert("@id".into(), json!(raw_id));
    raw.insert("@type".into(), json!("File"));
    raw.insert(
        "name".into(),
        json!(f.raw.rsplit('/').next().unwrap_or(&f.raw)),
    );
    raw.insert("contentSize".into(), json!(f.size.to_string()));
    raw.insert("sha256".into(), json!(f.sha256));
    let inspect = f.qc_doc.as_ref().map(|d| &d["inspect"]);
    let format = inspect
        .and_then(|i| i["format"].as_str())
        .unwrap_or_default();
    raw.insert(
        "encodingFormat".into(),
        ents.encoding_format(format, &f.raw),
    );
    if let Some(at) = &f.acquired_at {
        raw.insert("dateCreated".into(), json!(at));
    }
    let person = f.user.as_deref().map(|u| ents.person(u, users.get(u)));
    if let Some(p) = &person {
        raw.insert("author".into(), p.clone());
    }
    let file_meta = f.qc_doc.as_ref().map(|d| &d["metadata"]);
    if let Some(desc) = file_meta.and_then(|m| m["description"].as_str()) {
        raw.insert("description".into(), json!(desc));
    }
    if let Some(url) = file_meta.and_then(|m| m["eln_url"].as_str()) {
        raw.insert("isPartOf".into(), ents.eln_experiment(url));
    }
    if let Some(instrument) = inspect.and_then(entities::instrument_name) {
        raw.insert("instrument".into(), ents.instrument(&instrument));
    }
    parts.push(json!({"@id": raw_id}));

    let mut results = Vec::new();
    if let Some(zarr) = &f.zarr {
        let id = encode_id(&format!("{}/", zarr.trim_end_matches('/')));
        own.push(json!({
            "@id": id,
            "@type": "Dataset",
            "name": zarr.rsplit('/').next().unwrap_or(zarr),
            "encodingFormat": "OME-Zarr",
            "conformsTo": {"@id": "https://ngff.openmicroscopy.org/"},
        }));
        parts.push(json!({"@id": id}));
        results.push(json!({"@id": id}));
    }
    let qc_id = encode_id(&f.qc);
    own.push(json!({
        "@id": qc_id,
        "@type": "File",
        "name": f.qc.rsplit('/').next().unwrap_or(&f.qc),
        "encodingFormat": "application/json",
        "about": {"@id": raw_id},
    }));
    parts.push(json!({"@id": qc_id}));
    results.push(json!({"@id": qc_id}));
    if let Some(thumb) = &f.thumbnail {
        let id = encode_id(thumb);
        own.push(json!({
            "@id": id,
            "@type": "File",
            "name": thumb.rsplit('/').next().unwrap_or(thumb),
            "encodingFormat": "image/png",
            "about": {"@id": raw_id},
        }));
        parts.push(json!({"@id": id}));
        results.push(json!({"@id": id}));
    }
    own.push(Value::Object(raw));

    let mut action = Map::new();
    action.insert("@id".into(), json!(format!("#process-{i}")));
    action.insert("@type".into(), json!("CreateAction"));
    action.insert(
        "name".into(),
        json!(format!("scopeflow processing of {}", f.raw)),
    );
    action.insert("instrument".into(), software.clone());
    action.insert("object".into(), json!({"@id": raw_id}));
    action.insert("result".into(), Value::Array(results));
    if let Some(at) = &f.verified_at {
        action.insert("endTime".into(), json!(at));
    }
    if let Some(p) = person {
        action.insert("agent".into(), p);
    }
    if let Some(naming) = f.qc_doc.as_ref().map(|d| &d["naming"])
        && naming.is_object()
    {
        action.insert("description".into(), json!(naming_note(naming)));
    }
    own.push(Value::Object(action));
}

/// The naming check's verdict as one sentence.
fn naming_note(naming: &Value) -> String {
    let rules: Vec<&str> = naming["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["rule"].as_str())
        .collect();
    if rules.is_empty() {
        "The file name follows the naming convention.".to_owned()
    } else {
        format!("The file name breaks naming rules: {}.", rules.join(", "))
    }
}

/// REMBI's sections as schema.org `PropertyValue`s named `study.title` and so on.
fn rembi_properties(m: &Metadata) -> Vec<Value> {
    let sections: [(&str, &BTreeMap<String, String>); 3] = [
        ("study", &m.study),
        ("specimen", &m.specimen),
        ("image_acquisition", &m.image_acquisition),
    ];
    sections
        .iter()
        .flat_map(|(section, map)| {
            map.iter().map(move |(k, v)| {
                json!({"@type": "PropertyValue", "name": format!("{section}.{k}"), "value": v})
            })
        })
        .collect()
}

/// A relative path as an RO-Crate `@id`: a URI path, each byte outside RFC 3986's unreserved
/// set and `/` percent-encoded, so names with spaces or brackets stay valid identifiers.
pub fn encode_id(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded() {
        assert_eq!(
            encode_id("raw/my image (final)!!.tif"),
            "raw/my%20image%20%28final%29%21%21.tif"
        );
        assert_eq!(encode_id("raw/é.tif"), "raw/%C3%A9.tif");
    }

    #[test]
    fn root_and_descriptor() {
        let metadata = Metadata {
            project: Some("Atlas".into()),
            license: Some("CC-BY-4.0".into()),
            ..Metadata::default()
        };
        let files = [CrateFile {
            raw: "raw/alice/a.tif".into(),
            sha256: "ab".into(),
            size: 3,
            zarr: Some("ome-zarr/alice/a.ome.zarr".into()),
            qc: "qc/alice/a.json".into(),
            thumbnail: Some("qc/alice/a.png".into()),
            user: Some("alice".into()),
            ..CrateFile::default()
        }];
        let bytes = build(
            &CrateInput {
                pipeline: "p",
                metadata: &metadata,
                now: "2026-12-04T10:00:00.000Z",
            },
            files,
        );
        let doc: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let graph = doc["@graph"].as_array().unwrap();
        let find = |id: &str| graph.iter().find(|e| e["@id"] == id).cloned();
        let root = find("./").unwrap();
        assert_eq!(root["datePublished"], "2026-12-04");
        assert_eq!(
            root["license"]["@id"],
            "https://spdx.org/licenses/CC-BY-4.0"
        );
        assert_eq!(root["hasPart"].as_array().unwrap().len(), 4);
        let raw = find("raw/alice/a.tif").unwrap();
        assert_eq!(raw["contentSize"], "3");
        assert_eq!(raw["author"]["@id"], "#user-alice");
        assert!(find("ome-zarr/alice/a.ome.zarr/").is_some());
        assert_eq!(
            find("qc/alice/a.png").unwrap()["encodingFormat"],
            "image/png"
        );
        assert!(find("#user-alice").is_some());
        assert!(find("https://spdx.org/licenses/CC-BY-4.0").is_some());
    }
}
