//! When raw files may leave the acquisition PC. The defaults lean towards keeping data: a
//! file is purged only once every destination holds a verified copy.

use std::path::PathBuf;
use std::time::Duration;

use crate::fields::Fields;
use crate::node::{Node, Value};
use crate::reader::{Expect, Reader};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Age since ingest (the journal's `discovered_at`) after which a raw file may be purged;
    /// default 60d.
    pub purge_after: Duration,
    /// Destinations that must each hold a verified copy; default every destination.
    pub require_verified: Vec<String>,
    /// At least this many verified copies, counted over all destinations; default none.
    pub min_copies: Option<u32>,
    /// Default [`RetentionMode::Delete`].
    pub mode: RetentionMode,
    /// Where `trash` mode moves files; required with it, refused without it.
    pub trash_path: Option<PathBuf>,
    /// How long files stay in the trash; default 30d.
    pub trash_keep: Duration,
    /// At most this many files purged per run, a brake on a mistaken rule; default none.
    pub max_per_run: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionMode {
    Delete,
    /// Move to `trash_path`, deleted from there after `trash_keep`.
    Trash,
}

impl Retention {
    /// The defaults, given the pipeline's destinations.
    pub fn with_destinations(names: &[String]) -> Retention {
        Retention {
            purge_after: Duration::from_secs(60 * 86_400),
            require_verified: names.to_vec(),
            min_copies: None,
            mode: RetentionMode::Delete,
            trash_path: None,
            trash_keep: Duration::from_secs(30 * 86_400),
            max_per_run: None,
        }
    }
}

const KEYS: &[&str] = &[
    "purge_after",
    "require_verified",
    "min_copies",
    "mode",
    "trash_path",
    "trash_keep",
    "max_per_run",
];

/// `destinations` are the names defined in the file, for the default of `require_verified`.
pub(crate) fn read_retention(node: &Node, destinations: &[String], r: &mut Reader) -> Retention {
    let mut out = Retention::with_destinations(destinations);
    let Some(f) = Fields::read(node, "retention", r) else {
        return out;
    };
    f.allow(KEYS, r);
    if let Some(d) = f.duration("purge_after", r) {
        out.purge_after = d;
    }
    if let Some(names) = f.strings("require_verified", r) {
        if names.is_empty()
            && let Some((_, pos)) = f.get("require_verified")
        {
            r.error(
                pos,
                "retention.require_verified: must name at least one destination (leave it out to require all of them); purging with no verified copy would lose data",
            );
        }
        for (i, (name, pos)) in names.iter().enumerate() {
            if let Some(first) = names[..i].iter().position(|(n, _)| n == name) {
                r.error(
                    *pos,
                    format!("retention.require_verified[{i}]: `{name}` is already require_verified[{first}]"),
                );
            }
        }
        out.require_verified = names.iter().map(|(n, _)| n.clone()).collect();
        r.sites.required = names;
    }
    out.min_copies = f.whole::<u32>("min_copies", 1, r);
    if let (Some(n), Some((_, pos))) = (out.min_copies, f.get("min_copies")) {
        r.sites.min_copies = Some((n, pos));
    }
    if let Some((node, pos)) = f.get("mode") {
        match &node.value {
            Value::Str(m) if m == "delete" => out.mode = RetentionMode::Delete,
            Value::Str(m) if m == "trash" => out.mode = RetentionMode::Trash,
            _ => r.error(
                pos,
                format!(
                    "retention.mode: must be delete or trash, found {}",
                    node.describe()
                ),
            ),
        }
    }
    let mode_is_known = f
        .get("mode")
        .is_none_or(|(n, _)| matches!(&n.value, Value::Str(m) if m == "delete" || m == "trash"));
    out.trash_path = f.path("trash_path", r).map(|(path, pos)| {
        if out.mode == RetentionMode::Delete && mode_is_known {
            r.error(
                pos,
                "retention.trash_path: only used with mode: trash; set the mode or drop the path",
            );
        }
        r.expect_on_disk(&path, "retention.trash_path", pos, Expect::ParentFolder);
        r.sites
            .outputs
            .push((path.clone(), pos, "the trash".to_owned()));
        path
    });
    if out.mode == RetentionMode::Trash && !f.has("trash_path") {
        let pos = f.key_pos("mode").unwrap_or(f.pos());
        r.error(
            pos,
            "retention: mode: trash needs `trash_path`, the folder files are moved to",
        );
    }
    if let Some(d) = f.duration("trash_keep", r) {
        out.trash_keep = d;
    }
    out.max_per_run = f.whole::<usize>("max_per_run", 1, r);
    out
}
