//! Finding a batch from its id alone: submit leaves a one-line pointer to the batch folder in
//! `~/.scopeflow/batches/ID` (home is shared between login nodes), and every command also
//! takes the batch folder itself or `--to DEST`.

use std::path::{Path, PathBuf};

use crate::BatchError;

fn home() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SCOPEFLOW_BATCH_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".scopeflow").join("batches"))
}

/// Best effort: without it, `status`/`resume` need `--to DEST`.
pub fn remember(id: &str, dir: &Path) {
    let Some(home) = home() else { return };
    let written = std::fs::create_dir_all(&home)
        .and_then(|()| std::fs::write(home.join(id), format!("{}\n", dir.display())));
    if let Err(e) = written {
        tracing::warn!(folder = %home.display(), error = %e, "cannot remember the batch; pass --to DEST to status and resume");
    }
}

/// The batch folder of `id` (an id, or the folder itself), under `to` when given.
///
/// # Errors
/// A usage error saying how to name the batch when it cannot be found.
pub fn locate(id: &str, to: Option<&Path>) -> Result<PathBuf, BatchError> {
    let found = if let Some(to) = to {
        Some(crate::plan::batch_dir(to, id))
    } else if Path::new(id).join("plan.json").is_file() {
        Some(PathBuf::from(id))
    } else if !id.contains(['/', '\\']) {
        home()
            .and_then(|h| std::fs::read_to_string(h.join(id)).ok())
            .map(|t| PathBuf::from(t.trim_end_matches(['\n', '\r'])))
    } else {
        None
    };
    match found {
        Some(dir) if dir.join("plan.json").is_file() => Ok(dir),
        Some(dir) => Err(BatchError::Usage(format!(
            "batch {id}: no plan at {}",
            dir.join("plan.json").display()
        ))),
        None => Err(BatchError::Usage(format!(
            "batch {id}: unknown on this machine; pass --to DEST (the batch's destination) or the \
             batch folder DEST/{}/{id}",
            crate::BATCH_DIR
        ))),
    }
}
