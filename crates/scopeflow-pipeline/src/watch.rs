//! Folders on the acquisition PC where new images appear.

use std::path::PathBuf;
use std::time::Duration;

use globset::Glob;

use crate::fields::Fields;
use crate::node::{Node, Pos, Value};
use crate::reader::{Expect, Reader};
use crate::values;

/// Every extension the readers open (formats are told apart by magic bytes, but the watcher
/// must not pick up the microscope software's side files), lower and upper case.
pub const DEFAULT_INCLUDE: &[&str] = &[
    "**/*.tif",
    "**/*.tiff",
    "**/*.btf",
    "**/*.tf8",
    "**/*.stk",
    "**/*.czi",
    "**/*.ims",
    "**/*.lif",
    "**/*.nd2",
    "**/*.png",
    "**/*.jpg",
    "**/*.jpeg",
    "**/*.bmp",
    "**/*.TIF",
    "**/*.TIFF",
    "**/*.CZI",
    "**/*.IMS",
    "**/*.LIF",
    "**/*.ND2",
    "**/*.PNG",
    "**/*.JPG",
    "**/*.JPEG",
    "**/*.BMP",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// Resolved against the pipeline file's folder; must exist when the pipeline is checked.
    pub path: PathBuf,
    /// Globs matched against the path relative to `path` (globset syntax); default
    /// [`DEFAULT_INCLUDE`].
    pub include: Vec<String>,
    /// Globs that win over `include`; default none.
    pub exclude: Vec<String>,
    /// A file counts as finished once its size and mtime stay unchanged this long; default 5s.
    pub settle: Duration,
    /// Poll instead of relying on change notifications, which NFS and SMB shares never
    /// deliver; default false.
    pub poll: bool,
    /// Time between polls when `poll` is true; default 2s.
    pub poll_interval: Duration,
    /// Time between full rescans, which catch events lost by the watcher; default 5m.
    pub rescan: Duration,
}

const KEYS: &[&str] = &[
    "path",
    "include",
    "exclude",
    "settle",
    "poll",
    "poll_interval",
    "rescan",
];

pub(crate) fn read_watches(node: &Node, pos: Pos, r: &mut Reader) -> Vec<Watch> {
    let Some(items) = values::list(node, pos, "watch", r) else {
        return Vec::new();
    };
    if items.is_empty() {
        r.error(pos, "watch: must list at least one folder to watch");
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_watch(item, &format!("watch[{i}]"), r))
        .collect()
}

fn read_watch(node: &Node, key: &str, r: &mut Reader) -> Option<Watch> {
    let f = Fields::read(node, key, r)?;
    f.allow(KEYS, r);
    let path = f.required_path("path", r);
    let include = globs(&f, "include", r)
        .unwrap_or_else(|| DEFAULT_INCLUDE.iter().map(|g| (*g).to_string()).collect());
    let exclude = globs(&f, "exclude", r).unwrap_or_default();
    let settle = f.duration("settle", r).unwrap_or(Duration::from_secs(5));
    let poll = f.boolean("poll", r).unwrap_or(false);
    let poll_interval = positive(&f, "poll_interval", Duration::from_secs(2), r);
    let rescan = positive(&f, "rescan", Duration::from_secs(300), r);
    let (path, pos) = path?;
    r.expect_on_disk(&path, &f.key_path("path"), pos, Expect::Folder);
    r.sites.watched.push((path.clone(), pos));
    Some(Watch {
        path,
        include,
        exclude,
        settle,
        poll,
        poll_interval,
        rescan,
    })
}

/// A zero interval would make the agent spin, so these durations must be above zero.
fn positive(f: &Fields, key: &str, default: Duration, r: &mut Reader) -> Duration {
    match f.duration(key, r) {
        Some(d) if d.is_zero() => {
            if let Some((_, pos)) = f.get(key) {
                r.error(pos, format!("{}: must be longer than 0s", f.key_path(key)));
            }
            default
        }
        Some(d) => d,
        None => default,
    }
}

/// Each pattern is compiled once here so a typo is reported with its position instead of
/// failing later in the agent.
fn globs(f: &Fields, key: &str, r: &mut Reader) -> Option<Vec<String>> {
    let patterns = f.strings(key, r)?;
    // Empty as written, not emptied by entries refused (and reported) one by one.
    if patterns.is_empty()
        && key == "include"
        && let Some((node, pos)) = f.get(key)
        && matches!(&node.value, Value::Seq(items) if items.is_empty())
    {
        r.error(
            pos,
            format!(
                "{}: must list at least one pattern, or be left out for every image format read",
                f.key_path(key)
            ),
        );
    }
    let mut out = Vec::with_capacity(patterns.len());
    for (i, (pattern, pos)) in patterns.into_iter().enumerate() {
        match Glob::new(&pattern) {
            Ok(_) => out.push(pattern),
            Err(e) => r.error(
                pos,
                format!(
                    "{}[{i}]: bad glob {pattern:?}: {}",
                    f.key_path(key),
                    e.kind()
                ),
            ),
        }
    }
    Some(out)
}
