//! This crate's temporaries: how they are named, and the only deletions this crate ever makes.
//!
//! Destinations never delete anything else. A temporary is removed when the put that made it
//! fails or has published it, and by [`clean`] after a crash.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use super::root::Root;
use crate::TransferError;
use crate::rel_path::{TEMP_MARKER, is_temporary_name};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Keeps `.<name>.scopeflow-tmp-<unique>` well under the usual 255-byte limit on names.
const MAX_NAME_PART: usize = 120;

/// A temporary file or folder beside a target; removed when dropped unless published by rename.
pub(super) struct Temporary {
    path: PathBuf,
    armed: bool,
}

impl Temporary {
    /// Names a temporary beside `target` (nothing is created). The process id, the time and a
    /// counter keep two agents, two puts or a restarted agent from ever picking the same name.
    pub(super) fn beside(target: &Path) -> Temporary {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut cut = MAX_NAME_PART.min(name.len());
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let unique = format!(
            "{}-{}-{nanos:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let temp_name = format!(".{}{TEMP_MARKER}{unique}", &name[..cut]);
        Temporary {
            path: target.with_file_name(temp_name),
            armed: true,
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary was renamed into place: there is nothing left to remove.
    pub(super) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if self.armed {
            remove(&self.path);
        }
    }
}

/// Removes one of our temporaries; a failure only leaves it for [`clean`].
fn remove(path: &Path) {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        warn!(path = %path.display(), error = %e, "could not remove a temporary; clean_temporaries will");
    }
}

/// Removes every leftover temporary under the root, and nothing else: only names shaped
/// `.<name>.scopeflow-tmp-<unique>`, which [`crate::RelPath`] refuses, so no published file can
/// carry that shape.
pub(super) fn clean(root: &Root) -> Result<usize, TransferError> {
    root.ensure(false)?;
    let mut removed = 0;
    let mut pending = vec![root.path.clone()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| root.err("list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| root.err("list", &dir, e))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| root.err("look up", &path, e))?;
            if is_temporary_name(&entry.file_name().to_string_lossy()) {
                let result = if kind.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                result.map_err(|e| root.err("remove temporary", &path, e))?;
                info!(destination = %root.name, path = %path.display(), "removed a leftover temporary");
                removed += 1;
            } else if kind.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(removed)
}
