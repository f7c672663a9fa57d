//! One description of a file or a set of files, from which both the DataCite and the Dublin
//! Core records are written: the two always say the same thing, each in its own vocabulary.

use std::collections::BTreeSet;

use scopeflow_core::FileState;
use serde_json::Value;

use super::record::Item;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One image file (DataCite `Image`, DCMI type `Image`).
    File,
    /// A folder or a search result (DataCite and DCMI type `Dataset`).
    Dataset,
}

#[derive(Clone, Debug)]
pub struct Described {
    pub kind: Kind,
    pub title: String,
    /// The projects and study titles: DataCite alternative titles.
    pub other_titles: Vec<String>,
    /// The acquiring users (first folder of the path, or the image's own metadata).
    pub creators: Vec<String>,
    pub contacts: Vec<String>,
    /// The agents (acquisition stations) that delivered the files.
    pub publishers: Vec<String>,
    pub year: String,
    pub keywords: Vec<String>,
    /// SPDX ids.
    pub licenses: Vec<String>,
    pub descriptions: Vec<String>,
    /// Instrument, channels, pixel type, naming verdict.
    pub technical: Vec<String>,
    /// REMBI study, specimen and image acquisition fields, `section.key: value`.
    pub methods: Vec<String>,
    /// The acquisition time, or the earliest and latest of a set (RFC 3339).
    pub created: Option<(String, String)>,
    /// Media types and the reader's format names.
    pub formats: Vec<String>,
    pub files: usize,
    pub bytes: i64,
    /// This record's own address on the server.
    pub url: String,
    pub sha256: Option<String>,
    pub eln_urls: Vec<String>,
    /// The files of a dataset, by their address on the server.
    pub parts: Vec<String>,
    pub funders: Vec<String>,
    pub version: Option<i64>,
    /// Where each file came from: `AGENT:WATCH/PATH`.
    pub sources: Vec<String>,
}

/// `items` must not be empty. `base` is the server's address (no trailing slash), `url` the
/// address of the record, `title` the dataset's name (a file is named by its path).
pub fn describe(
    kind: Kind,
    items: &[Item],
    base: &str,
    url: String,
    title: Option<String>,
) -> Described {
    let set = |f: &dyn Fn(&Item) -> Vec<String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        items
            .iter()
            .flat_map(f)
            .filter(|s| !s.trim().is_empty() && seen.insert(s.clone()))
            .collect()
    };
    let one =
        |key: &'static str| move |i: &Item| i.text(key).map(str::to_owned).into_iter().collect();
    let mut acquired: Vec<&str> = items
        .iter()
        .map(|i| i.row.acquired_at.as_deref().unwrap_or(&i.row.found_at))
        .collect();
    acquired.sort_unstable();
    let created = match (acquired.first(), acquired.last()) {
        (Some(a), Some(b)) => Some((a.to_string(), b.to_string())),
        _ => None,
    };
    let first = &items[0].row;
    let published = items
        .iter()
        .filter(|i| i.row.progress >= FileState::Verified.rank().map_or(i64::MAX, |r| r as i64))
        .map(|i| i.row.progress_at.as_str())
        .max()
        .unwrap_or(first.found_at.as_str());
    Described {
        kind,
        title: title.unwrap_or_else(|| first.path.clone()),
        other_titles: set(&|i| {
            let mut t: Vec<String> = i.text("project").map(str::to_owned).into_iter().collect();
            t.extend(
                section(i, "study")
                    .into_iter()
                    .filter_map(|(k, v)| (k == "title").then_some(v)),
            );
            t
        }),
        // The pipeline's `metadata.users` names the person behind a user folder.
        creators: set(&|i| {
            i.row
                .user_name
                .iter()
                .map(|u| {
                    i.metadata
                        .get("users")
                        .and_then(|m| m.get(u))
                        .and_then(Value::as_str)
                        .unwrap_or(u)
                        .to_owned()
                })
                .collect()
        }),
        contacts: set(&one("contact")),
        publishers: set(&|i| vec![i.row.agent.clone()]),
        year: published.get(..4).unwrap_or("1970").to_string(),
        keywords: set(&|i| {
            i.metadata
                .get("keywords")
                .and_then(Value::as_array)
                .map(|k| {
                    k.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        }),
        licenses: set(&one("license")),
        descriptions: set(&one("description")),
        technical: set(&technical),
        methods: set(&|i| {
            ["study", "specimen", "image_acquisition"]
                .into_iter()
                .flat_map(|s| {
                    section(i, s)
                        .into_iter()
                        .map(move |(k, v)| format!("{s}.{k}: {v}"))
                })
                .collect()
        }),
        created,
        formats: set(&|i| {
            let f = i.row.format.clone();
            let media = f.as_deref().and_then(media_type).map(str::to_owned);
            media.into_iter().chain(f).collect()
        }),
        files: items.len(),
        bytes: items.iter().map(|i| i.row.size).sum(),
        url,
        sha256: match kind {
            Kind::File => first.sha256.clone(),
            Kind::Dataset => None,
        },
        eln_urls: set(&|i| i.eln_url().map(str::to_owned).into_iter().collect()),
        parts: match kind {
            Kind::File => Vec::new(),
            Kind::Dataset => items
                .iter()
                .map(|i| format!("{base}/api/files/{}", i.row.id))
                .collect(),
        },
        funders: set(&one("funder")),
        version: (kind == Kind::File).then_some(first.version),
        sources: items
            .iter()
            .map(|i| {
                format!(
                    "{}:{}/{}",
                    i.row.agent,
                    i.row.watch.trim_end_matches(['/', '\\']),
                    i.row.path
                )
            })
            .collect(),
    }
}

/// A REMBI section's `key: value` pairs, in key order.
fn section(i: &Item, name: &str) -> Vec<(String, String)> {
    let Some(Value::Object(m)) = i.metadata.get(name) else {
        return Vec::new();
    };
    m.iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Some((k.clone(), v.to_string())),
            _ => None,
        })
        .collect()
}

fn technical(i: &Item) -> Vec<String> {
    let r = &i.row;
    let mut out = Vec::new();
    if let Some(ins) = r.instrument.as_deref() {
        out.push(format!("Instrument: {ins}"));
    }
    if let Some(c) = r.channels.as_deref().filter(|c| !c.is_empty()) {
        out.push(format!("Channels: {}", c.replace(',', ", ")));
    }
    if let (Some(axes), Some(dtype)) = (r.axes.as_deref(), r.dtype.as_deref()) {
        out.push(format!("Axes {axes}, pixel type {dtype}"));
    }
    if let Some(n) = &i.naming {
        let mode = n["mode"].as_str().unwrap_or("warn");
        let rules: Vec<&str> = n["problems"]
            .as_array()
            .map(|p| p.iter().filter_map(|x| x["rule"].as_str()).collect())
            .unwrap_or_default();
        out.push(if rules.is_empty() {
            format!("Naming convention ({mode}): followed")
        } else {
            format!(
                "Naming convention ({mode}): rules broken: {}",
                rules.join(", ")
            )
        });
    }
    out
}

/// The IANA media type of a format the agent's readers name, where it has one.
pub fn media_type(format: &str) -> Option<&'static str> {
    Some(match format {
        "tiff" | "ome-tiff" | "imagej-tiff" => "image/tiff",
        "png" => "image/png",
        "jpeg" => "image/jpeg",
        "bmp" => "image/bmp",
        _ => return None,
    })
}
