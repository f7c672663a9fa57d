//! DataCite Metadata Schema 4.5 in its JSON form (the one DataCite's REST API takes under
//! `data.attributes`), without a DOI: the record is what a repository needs to mint one.

use serde_json::{Value, json};

use super::describe::{Described, Kind};

pub const SCHEMA_VERSION: &str = "http://datacite.org/schema/kernel-4";

pub fn render(d: &Described) -> Value {
    let mut doc = json!({
        "types": match d.kind {
            Kind::File => json!({"resourceTypeGeneral": "Image", "resourceType": "Microscopy image"}),
            Kind::Dataset => json!({"resourceTypeGeneral": "Dataset", "resourceType": "Microscopy images"}),
        },
        "creators": creators(d),
        "titles": titles(d),
        "publisher": {"name": publisher(d)},
        "publicationYear": d.year,
        "url": d.url,
        "schemaVersion": SCHEMA_VERSION,
    });
    let mut put = |key: &str, v: Vec<Value>| {
        if !v.is_empty() {
            doc[key] = Value::Array(v);
        }
    };
    put(
        "subjects",
        d.keywords.iter().map(|k| json!({"subject": k})).collect(),
    );
    put(
        "contributors",
        d.contacts
            .iter()
            .map(|c| json!({"name": c, "contributorType": "ContactPerson"}))
            .collect(),
    );
    put("dates", dates(d));
    put("alternateIdentifiers", alternate_ids(d));
    put("relatedIdentifiers", related(d));
    put(
        "sizes",
        vec![
            json!(format!("{} bytes", d.bytes)),
            json!(match d.files {
                1 => "1 file".to_string(),
                n => format!("{n} files"),
            }),
        ],
    );
    put("formats", d.formats.iter().map(|f| json!(f)).collect());
    put(
        "rightsList",
        d.licenses
            .iter()
            .map(|id| {
                json!({
                    "rights": id,
                    "rightsUri": format!("https://spdx.org/licenses/{id}"),
                    "rightsIdentifier": id,
                    "rightsIdentifierScheme": "SPDX",
                    "schemeUri": "https://spdx.org/licenses/",
                })
            })
            .collect(),
    );
    put("descriptions", descriptions(d));
    put(
        "fundingReferences",
        d.funders.iter().map(|f| json!({"funderName": f})).collect(),
    );
    if let Some(v) = d.version {
        doc["version"] = json!(v.to_string());
    }
    doc
}

/// The acquiring users; a record needs at least one creator, so the contact, then the station.
fn creators(d: &Described) -> Vec<Value> {
    let names = [&d.creators, &d.contacts, &d.publishers]
        .into_iter()
        .find(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| vec!["unknown".to_string()]);
    names.iter().map(|n| json!({"name": n})).collect()
}

fn titles(d: &Described) -> Vec<Value> {
    let mut out = vec![json!({"title": d.title})];
    out.extend(
        d.other_titles
            .iter()
            .filter(|t| **t != d.title)
            .map(|t| json!({"title": t, "titleType": "AlternativeTitle"})),
    );
    out
}

pub fn publisher(d: &Described) -> String {
    if d.publishers.is_empty() {
        "scopeflow".to_string()
    } else {
        d.publishers.join(", ")
    }
}

fn dates(d: &Described) -> Vec<Value> {
    match &d.created {
        Some((a, b)) if a == b => vec![json!({"date": a, "dateType": "Created"})],
        Some((a, b)) => vec![json!({"date": format!("{a}/{b}"), "dateType": "Created"})],
        None => Vec::new(),
    }
}

fn alternate_ids(d: &Described) -> Vec<Value> {
    let mut out = vec![json!({"alternateIdentifier": d.url, "alternateIdentifierType": "URL"})];
    if let Some(sha) = &d.sha256 {
        out.push(json!({"alternateIdentifier": sha, "alternateIdentifierType": "sha256"}));
    }
    out
}

fn related(d: &Described) -> Vec<Value> {
    let eln = d.eln_urls.iter().map(|u| {
        json!({"relatedIdentifier": u, "relatedIdentifierType": "URL", "relationType": "IsPartOf"})
    });
    let parts = d.parts.iter().map(|u| {
        json!({"relatedIdentifier": u, "relatedIdentifierType": "URL", "relationType": "HasPart",
               "resourceTypeGeneral": "Image"})
    });
    eln.chain(parts).collect()
}

fn descriptions(d: &Described) -> Vec<Value> {
    let abstracts = d
        .descriptions
        .iter()
        .map(|t| json!({"description": t, "descriptionType": "Abstract"}));
    let joined = |lines: &[String], kind: &str| {
        (!lines.is_empty())
            .then(|| json!({"description": lines.join("\n"), "descriptionType": kind}))
    };
    abstracts
        .chain(joined(&d.methods, "Methods"))
        .chain(joined(&d.technical, "TechnicalInfo"))
        .collect()
}
