//! Atomic publish: everything is written under a hidden temporary name beside OUTPUT (same
//! filesystem, so the final rename is atomic) and removed again on any failure.

use std::path::{Path, PathBuf};

use crate::ConvertError;

pub(crate) struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    done: bool,
}

fn sibling(target: &Path, tag: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    target.with_file_name(format!(".{name}.{tag}-{}-{stamp}", std::process::id()))
}

impl Staging {
    pub(crate) fn new(target: &Path, overwrite: bool) -> Result<Staging, ConvertError> {
        if target.file_name().is_none() {
            return Err(ConvertError::Options(format!(
                "{}: not a valid output name",
                target.display()
            )));
        }
        if target.exists() && !overwrite {
            return Err(ConvertError::OutputExists {
                path: target.to_path_buf(),
            });
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ConvertError::Write {
                path: parent.to_path_buf(),
                error: e,
            })?;
        }
        let dir = sibling(target, "scopeflow-tmp");
        std::fs::create_dir(&dir).map_err(|e| ConvertError::Write {
            path: dir.clone(),
            error: e,
        })?;
        Ok(Staging {
            dir,
            target: target.to_path_buf(),
            done: false,
        })
    }

    /// Moves the finished output into place (replacing an old one only now, when asked to).
    pub(crate) fn publish(mut self) -> Result<(), ConvertError> {
        let write_err = |path: &Path, e| ConvertError::Write {
            path: path.to_path_buf(),
            error: e,
        };
        let old = if self.target.exists() {
            let old = sibling(&self.target, "scopeflow-old");
            std::fs::rename(&self.target, &old).map_err(|e| write_err(&self.target, e))?;
            Some(old)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&self.dir, &self.target) {
            if let Some(old) = &old {
                let _ = std::fs::rename(old, &self.target);
            }
            return Err(write_err(&self.target, e));
        }
        self.done = true;
        if let Some(old) = old {
            remove_any(&old).map_err(|e| write_err(&old, e))?;
        }
        Ok(())
    }
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_any(&self.dir);
        }
    }
}
