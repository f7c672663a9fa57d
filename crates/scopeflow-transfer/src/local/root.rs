use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tracing::info;

use super::durable::sync_dir;
use crate::TransferError;
use crate::error::{is_full, is_network};

/// One destination root on a local or mounted file system, shared by the blocking tasks that
/// work on it.
pub(super) struct Root {
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// Serialises this process's manifest appends and repairs, so a repair never cuts a line
    /// another task is writing.
    manifest_lock: Mutex<()>,
}

impl Root {
    pub(super) fn new(name: &str, path: &Path) -> Root {
        Root {
            name: name.to_owned(),
            path: path.to_owned(),
            manifest_lock: Mutex::new(()),
        }
    }

    pub(super) fn lock_manifest(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock leaves at worst a torn line, which the next append repairs.
        self.manifest_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks that the root is there. With `create`, makes the root folder itself, but only
    /// inside an existing parent: a missing parent usually means the NAS is not mounted, and
    /// creating the whole path would silently fill the local disk under the mount point.
    pub(super) fn ensure(&self, create: bool) -> Result<(), TransferError> {
        match fs::metadata(&self.path) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => {
                return Err(TransferError::Invalid {
                    dest: self.name.clone(),
                    path: self.path.display().to_string(),
                    reason: "the destination root is not a folder".into(),
                });
            }
            Err(e) if e.kind() != ErrorKind::NotFound => {
                return Err(self.unreachable(format!("cannot reach the root: {e}")));
            }
            Err(_) => {}
        }
        if !create {
            return Err(self.unreachable("the root folder does not exist".into()));
        }
        let parent = match self.path.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => return Err(self.unreachable("the root folder does not exist".into())),
        };
        if !fs::metadata(parent).is_ok_and(|m| m.is_dir()) {
            return Err(self.unreachable(format!(
                "its parent {} does not exist: is the share mounted? (the root is only created \
                 inside an existing folder)",
                parent.display()
            )));
        }
        match fs::create_dir(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(self.err("create the root folder", &self.path, e)),
        }
        sync_dir(parent).map_err(|e| self.err("flush folder", parent, e))?;
        info!(destination = %self.name, root = %self.path.display(), "created the destination root");
        Ok(())
    }

    /// Whether anything (even a dangling link) sits at `path`.
    pub(super) fn exists(&self, path: &Path) -> Result<bool, TransferError> {
        match fs::symlink_metadata(path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.err("look up", path, e)),
        }
    }

    /// Sorts an I/O failure on the destination side by what the caller must do: wait for space,
    /// wait for the share, or look at this one path.
    pub(super) fn err(&self, op: &'static str, path: &Path, source: io::Error) -> TransferError {
        let dest = self.name.clone();
        let shown = path.display().to_string();
        if is_full(&source) {
            return TransferError::Full {
                dest,
                path: shown,
                source,
            };
        }
        if is_network(&source) {
            return TransferError::Unreachable {
                dest,
                path: shown,
                reason: format!("cannot {op}: {source}"),
            };
        }
        if fs::metadata(&self.path).is_err() {
            return self.unreachable(format!(
                "the root vanished (unmounted?) while trying to {op} {shown}: {source}"
            ));
        }
        TransferError::Io {
            dest,
            path: shown,
            op,
            source,
        }
    }

    /// An I/O failure on the local source: never `Full` or `Unreachable`, since those name the
    /// destination's state.
    pub(super) fn src_err(
        &self,
        op: &'static str,
        path: &Path,
        source: io::Error,
    ) -> TransferError {
        TransferError::Io {
            dest: self.name.clone(),
            path: path.display().to_string(),
            op,
            source,
        }
    }

    pub(super) fn invalid(
        &self,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> TransferError {
        TransferError::Invalid {
            dest: self.name.clone(),
            path: path.into(),
            reason: reason.into(),
        }
    }

    fn unreachable(&self, reason: String) -> TransferError {
        TransferError::Unreachable {
            dest: self.name.clone(),
            path: self.path.display().to_string(),
            reason,
        }
    }
}
