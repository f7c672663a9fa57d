//! The pipeline file as a whole: what one agent on one acquisition PC does.

use std::path::{Path, PathBuf};

use crate::destination::{DestinationConfig, read_destinations};
use crate::fields::Fields;
use crate::metadata::{Metadata, read_metadata};
use crate::node::Node;
use crate::qc_rules::{QcConfig, read_qc};
use crate::reader::Reader;
use crate::retention::{Retention, read_retention};
use crate::retry::{Retry, read_retry};
use crate::server::{Server, read_server};
use crate::steps::{Step, read_steps};
use crate::values;
use crate::watch::{Watch, read_watches};

/// A validated pipeline. Paths are resolved against the pipeline file's folder (absolute
/// when it came from [`crate::load`]), and the folders and files it names existed when it
/// was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// The pipeline file, as the caller named it.
    pub file: PathBuf,
    /// Always 1: the format's version, so a later format can be told apart.
    pub version: u32,
    /// Unique per acquisition PC; letters, digits, `.`, `_` and `-`.
    pub name: String,
    /// At least one folder.
    pub watch: Vec<Watch>,
    /// The SQLite journal; default `.scopeflow/state.db`.
    pub state: PathBuf,
    /// In order; default metadata, qc, convert.
    pub steps: Vec<Step>,
    /// Describes the datasets; per-folder sidecar files override it. Default empty.
    pub metadata: Metadata,
    /// At least one; names unique.
    pub destinations: Vec<DestinationConfig>,
    pub retention: Retention,
    pub server: Option<Server>,
    pub retry: Retry,
    /// Make raw files read-only once they are stable, so nothing on the acquisition PC
    /// alters them before they are copied; default false.
    pub protect_raw: bool,
    /// Files processed at once, at least 1; default [`default_workers`].
    pub workers: usize,
    /// Limits on each channel's QC figures and who to tell; empty when absent.
    pub qc: QcConfig,
}

const KEYS: &[&str] = &[
    "version",
    "name",
    "watch",
    "state",
    "steps",
    "metadata",
    "destinations",
    "retention",
    "server",
    "retry",
    "protect_raw",
    "workers",
    "qc",
];

/// Files processed at once when the pipeline does not say: the machine's cores, at least 2 and
/// at most 4. Conversion already spreads one file over every core, so more workers do not add
/// CPU; they overlap one file's copies and read-backs (disk) with the next one's conversion
/// (CPU), and hide the per-file syncs of small files. Past 4 the disk is the limit.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(2, 4)
}

/// `None` when anything was wrong; the problems are in `r`.
pub(crate) fn read_pipeline(root: &Node, file: &Path, r: &mut Reader) -> Option<Pipeline> {
    let f = Fields::read(root, "", r)?;
    f.allow(KEYS, r);
    let version = f.require("version", r).and_then(|(node, pos)| {
        let v = values::whole::<u32>(node, pos, "version", 0, r)?;
        if v != 1 {
            r.error(
                pos,
                format!("version: this scopeflow reads version 1, found {v}"),
            );
            return None;
        }
        Some(v)
    });
    let name = f
        .require("name", r)
        .and_then(|(node, pos)| values::name(node, pos, "name", r));
    let watch = f
        .require("watch", r)
        .map(|(node, pos)| read_watches(node, pos, r));
    let state = match f.path("state", r) {
        Some((path, _)) => path,
        None => r.resolve(".scopeflow/state.db"),
    };
    let steps = match f.get("steps") {
        Some((node, pos)) => read_steps(node, pos, r),
        None => Step::defaults(),
    };
    let metadata = f
        .get("metadata")
        .map(|(node, _)| read_metadata(node, r))
        .unwrap_or_default();
    let destinations = f
        .require("destinations", r)
        .map(|(node, pos)| read_destinations(node, pos, r));
    let names: Vec<String> = destinations
        .iter()
        .flatten()
        .map(|d| d.name.clone())
        .collect();
    let retention = match f.get("retention") {
        Some((node, _)) => read_retention(node, &names, r),
        None => Retention::with_destinations(&names),
    };
    let server = f.get("server").and_then(|(node, _)| read_server(node, r));
    let retry = match f.get("retry") {
        Some((node, _)) => read_retry(node, r),
        None => Retry::default(),
    };
    let protect_raw = f.boolean("protect_raw", r).unwrap_or(false);
    let workers = f
        .whole::<usize>("workers", 1, r)
        .unwrap_or_else(default_workers);
    let qc = f
        .get("qc")
        .map(|(node, _)| read_qc(node, r))
        .unwrap_or_default();
    Some(Pipeline {
        file: file.to_path_buf(),
        version: version?,
        name: name?,
        watch: watch?,
        state,
        steps,
        metadata,
        destinations: destinations?,
        retention,
        server,
        retry,
        protect_raw,
        workers,
        qc,
    })
}
