//! What reading a pipeline file carries along: the folder relative paths start from, every
//! problem found so far, and the places that the later, whole-pipeline checks point at.

use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::node::Pos;

pub(crate) struct Reader<'a> {
    pub base_dir: &'a Path,
    pub sites: Sites,
    problems: Vec<ConfigError>,
}

/// Where things were written, kept aside so the public model stays free of YAML positions.
#[derive(Default)]
pub(crate) struct Sites {
    /// Every destination name, in file order, duplicates included, with the destination's
    /// key path.
    pub destinations: Vec<(String, Pos, String)>,
    /// `retention.require_verified` entries, as written.
    pub required: Vec<(String, Pos)>,
    pub min_copies: Option<(u32, Pos)>,
    /// Watched folders, resolved.
    pub watched: Vec<(PathBuf, Pos)>,
    /// Folders scopeflow writes into (local destinations, the trash), resolved, with the
    /// name used in messages.
    pub outputs: Vec<(PathBuf, Pos, String)>,
    pub on_disk: Vec<OnDisk>,
}

/// A path that must already exist on this machine when the pipeline starts.
pub(crate) struct OnDisk {
    pub path: PathBuf,
    /// Key path (`watch[0].path`) for the message.
    pub key: String,
    pub pos: Pos,
    pub expect: Expect,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Folder,
    /// The folder may be created later, but only inside one that exists, so a typo in the
    /// path fails the check instead of growing a new tree somewhere.
    ParentFolder,
    File,
}

impl<'a> Reader<'a> {
    pub fn new(base_dir: &'a Path) -> Self {
        Reader {
            base_dir,
            sites: Sites::default(),
            problems: Vec::new(),
        }
    }

    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(ConfigError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.problems.is_empty()
    }

    /// Problems in file order; the same problem found twice (an alias read twice) once.
    pub fn into_problems(self) -> Vec<ConfigError> {
        let mut problems = self.problems;
        problems.sort_by_key(|a| (a.line, a.column));
        problems.dedup();
        problems
    }

    /// Relative paths start at the pipeline file's folder, so a pipeline means the same
    /// thing whatever folder the agent was started from.
    pub fn resolve(&self, written: &str) -> PathBuf {
        let joined = self.base_dir.join(written);
        // Collecting the components drops `./` pieces; `..` is kept, since a symlink can make
        // `a/..` differ from `.`.
        joined.components().collect()
    }

    pub fn expect_on_disk(&mut self, path: &Path, key: &str, pos: Pos, expect: Expect) {
        self.sites.on_disk.push(OnDisk {
            path: path.to_path_buf(),
            key: key.to_owned(),
            pos,
            expect,
        });
    }
}
