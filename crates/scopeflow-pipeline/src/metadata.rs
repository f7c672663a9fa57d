//! Descriptive metadata of the datasets a pipeline makes (`metadata:`), and the per-folder
//! sidecar file that overrides it, so a user can describe an experiment by dropping a small
//! YAML file beside the data instead of editing the pipeline. Both end up in the QC document
//! and the RO-Crate of every destination: what a repository, a notebook or a person picks up.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{ConfigError, ConfigErrors};
use crate::fields::Fields;
use crate::node::{Node, Pos, Value, parse_document};
use crate::reader::Reader;

/// The name of the sidecar file read in a raw file's folder and every folder above it up to
/// the watched one; the nearest wins, key by key.
pub const SIDECAR_FILE: &str = "scopeflow-metadata.yaml";

/// Dublin Core's core and REMBI's sections; every field optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// An SPDX licence id (`CC-BY-4.0`) or `LicenseRef-…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funder: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// REMBI "Study": what the experiment is about.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub study: BTreeMap<String, String>,
    /// REMBI "Specimen": what was imaged and how it was prepared.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub specimen: BTreeMap<String, String>,
    /// REMBI "Image acquisition": instrument settings beyond what the file records.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub image_acquisition: BTreeMap<String, String>,
    /// Who acquired the data: the first folder of an image's path (a login, initials) mapped
    /// to the person's name, as the RO-Crate's `author` shows it.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, String>,
    /// The experiment in the lab's electronic notebook (eLabFTW); sidecar files only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eln_url: Option<String>,
}

const KEYS: &[&str] = &[
    "project",
    "license",
    "contact",
    "description",
    "funder",
    "keywords",
    "study",
    "specimen",
    "image_acquisition",
    "users",
];

/// Common licences for data and code. Anything else can be written `LicenseRef-NAME`, SPDX's
/// form for a licence of one's own.
const SPDX_IDS: &[&str] = &[
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-NC-SA-4.0",
    "CC-BY-ND-4.0",
    "CC-BY-NC-ND-4.0",
    "CC0-1.0",
    "PDDL-1.0",
    "ODC-By-1.0",
    "ODbL-1.0",
    "etalab-2.0",
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "LGPL-3.0-or-later",
    "MPL-2.0",
];

impl Metadata {
    /// `over`'s fields where it has them, `self`'s elsewhere; maps merged key by key.
    pub fn merged(&self, over: &Metadata) -> Metadata {
        let pick = |a: &Option<String>, b: &Option<String>| b.clone().or_else(|| a.clone());
        let join = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
            let mut out = a.clone();
            out.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
            out
        };
        Metadata {
            project: pick(&self.project, &over.project),
            license: pick(&self.license, &over.license),
            contact: pick(&self.contact, &over.contact),
            description: pick(&self.description, &over.description),
            funder: pick(&self.funder, &over.funder),
            keywords: if over.keywords.is_empty() {
                self.keywords.clone()
            } else {
                over.keywords.clone()
            },
            study: join(&self.study, &over.study),
            specimen: join(&self.specimen, &over.specimen),
            image_acquisition: join(&self.image_acquisition, &over.image_acquisition),
            users: join(&self.users, &over.users),
            eln_url: pick(&self.eln_url, &over.eln_url),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Metadata::default()
    }
}

/// `metadata:` of the pipeline file.
pub(crate) fn read_metadata(node: &Node, r: &mut Reader) -> Metadata {
    read_fields(node, "metadata", KEYS, r)
}

fn read_fields(node: &Node, path: &str, keys: &[&str], r: &mut Reader) -> Metadata {
    let mut out = Metadata::default();
    let Some(f) = Fields::read(node, path, r) else {
        return out;
    };
    f.allow(keys, r);
    let text = |key: &str, r: &mut Reader| {
        let s = f.string(key, r)?;
        if s.trim().is_empty()
            && let Some((_, pos)) = f.get(key)
        {
            r.error(pos, format!("{}: must not be empty", f.key_path(key)));
            return None;
        }
        Some(s)
    };
    out.project = text("project", r);
    out.contact = text("contact", r);
    out.description = text("description", r);
    out.funder = text("funder", r);
    out.license = text("license", r).filter(|id| {
        let ok = spdx_ok(id);
        if !ok && let Some((_, pos)) = f.get("license") {
            let near = SPDX_IDS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(id))
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            r.error(
                pos,
                format!(
                    "{}: {id:?} is not a known SPDX licence id; {near}known: {}, or LicenseRef-NAME for another licence",
                    f.key_path("license"),
                    SPDX_IDS.join(", ")
                ),
            );
        }
        ok
    });
    if let Some(words) = f.strings("keywords", r) {
        out.keywords = words.into_iter().map(|(w, _)| w).collect();
    }
    for (key, slot) in [
        ("study", &mut out.study),
        ("specimen", &mut out.specimen),
        ("image_acquisition", &mut out.image_acquisition),
        ("users", &mut out.users),
    ] {
        if let Some((node, _)) = f.get(key) {
            *slot = flat_map(node, &f.key_path(key), r);
        }
    }
    if keys.contains(&"eln_url") {
        out.eln_url = text("eln_url", r).filter(|url| {
            let ok = url.starts_with("http://") || url.starts_with("https://");
            if !ok && let Some((_, pos)) = f.get("eln_url") {
                r.error(
                    pos,
                    format!(
                        "eln_url: expected a URL starting with http:// or https://, found {url:?}"
                    ),
                );
            }
            ok
        });
    }
    out
}

fn spdx_ok(id: &str) -> bool {
    if SPDX_IDS.contains(&id) {
        return true;
    }
    id.strip_prefix("LicenseRef-").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    })
}

/// A map of names to plain values (text, numbers, booleans), as REMBI's fields are.
fn flat_map(node: &Node, path: &str, r: &mut Reader) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(f) = Fields::read(node, path, r) else {
        return out;
    };
    let Value::Map(pairs) = &node.value else {
        return out;
    };
    for (key, value) in pairs {
        let Some(name) = key.scalar_text() else {
            continue;
        };
        if out.contains_key(&name) {
            continue; // reported as repeated by Fields::read
        }
        match &value.value {
            Value::Seq(_) | Value::Map(_) | Value::Null => r.error(
                value_pos(value, key.pos),
                format!(
                    "{}: expected a plain value (text or number), found {}",
                    f.key_path(&name),
                    value.describe()
                ),
            ),
            _ => {
                if let Some(text) = crate::values::string(value, value.pos, &f.key_path(&name), r) {
                    out.insert(name, text);
                }
            }
        }
    }
    out
}

fn value_pos(value: &Node, key_pos: Pos) -> Pos {
    if matches!(value.value, Value::Null) {
        key_pos
    } else {
        value.pos
    }
}

/// Reads the sidecar file at `path`.
///
/// # Errors
/// Every problem found, each at its line and column (an unreadable file at 1:1).
pub fn load_sidecar(path: &Path) -> Result<Metadata, ConfigErrors> {
    let fail = |errors| ConfigErrors {
        file: path.to_path_buf(),
        errors,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(vec![ConfigError {
            line: 1,
            column: 1,
            message: format!("cannot read the metadata file: {e}"),
        }])
    })?;
    parse_sidecar(&text, path)
}

/// Checks sidecar `text` as if read from `file`.
///
/// # Errors
/// Every problem found, in file order.
pub fn parse_sidecar(text: &str, file: &Path) -> Result<Metadata, ConfigErrors> {
    let fail = |errors| ConfigErrors {
        file: file.to_path_buf(),
        errors,
    };
    let root = parse_document(text).map_err(|e| {
        fail(vec![ConfigError {
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
        }])
    })?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut r = Reader::new(base);
    let mut keys = KEYS.to_vec();
    keys.push("eln_url");
    let out = read_fields(&root, "", &keys, &mut r);
    if r.has_errors() {
        return Err(fail(r.into_problems()));
    }
    Ok(out)
}
