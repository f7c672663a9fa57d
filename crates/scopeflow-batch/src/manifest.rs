//! `manifest-sha256.txt` at DEST: each task appends the lines of what it published to its own
//! part (`manifest/T.part`), and a merge folds every part into the manifest with one atomic
//! rename, so `sha256sum -c` passes at any moment and no path is listed twice.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use scopeflow_transfer::remote::{manifest_lines, read_sha256sum_line, whole_lines_len};
use scopeflow_transfer::{Digest, MANIFEST, RelPath};

use crate::BatchError;
use crate::plan::write_atomic;

/// A lock older than this was left by a killed merge (a merge takes well under a second per
/// 100,000 lines).
const STALE_LOCK: Duration = Duration::from_secs(300);

fn part_path(dir: &Path, task: usize) -> PathBuf {
    dir.join("manifest").join(format!("{task}.part"))
}

/// Appends `entries` to task `task`'s part, synced. Called only after the files are published.
///
/// # Errors
/// The part is not writable, or a path `sha256sum` would escape.
pub fn append_part(
    dir: &Path,
    task: usize,
    entries: &[(RelPath, Digest)],
) -> Result<(), BatchError> {
    let path = part_path(dir, task);
    let io = |e| BatchError::io(&path, e);
    let text = manifest_lines(entries).map_err(|e| BatchError::File(e.to_string()))?;
    std::fs::create_dir_all(dir.join("manifest")).map_err(io)?;
    // A torn line from a killed append is cut first, so every line stays whole.
    if let Ok(old) = std::fs::read(&path) {
        let keep = whole_lines_len(&old);
        if keep != old.len() {
            write_atomic(&path, &old[..keep])?;
        }
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(io)
}

/// Held while a merge rewrites the manifest; `create_new` is atomic on local filesystems and
/// on NFSv3+, so two tasks never rewrite it at once.
struct Lock(PathBuf);

impl Lock {
    fn take(path: PathBuf) -> Result<Lock, BatchError> {
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(Lock(path)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > STALE_LOCK);
                    if stale {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                Err(e) => return Err(BatchError::io(&path, e)),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Folds every part of batch `dir` into `to/manifest-sha256.txt`: lines already there are kept
/// (in their order), new paths are appended.
///
/// # Errors
/// The manifest or a part cannot be read, or the new manifest cannot be written.
pub fn merge(dir: &Path, to: &Path, tasks: usize) -> Result<(), BatchError> {
    let lock_path = dir
        .parent()
        .map_or_else(|| dir.join("manifest.lock"), |p| p.join("manifest.lock"));
    let _lock = Lock::take(lock_path)?;
    let manifest = to.join(MANIFEST);
    let mut text = match std::fs::read(&manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(BatchError::io(&manifest, e)),
    };
    text.truncate(whole_lines_len(&text));
    let before = text.len();
    let mut listed: HashSet<String> = String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| read_sha256sum_line(l).map(|(_, p)| p.to_string()))
        .collect();
    for t in 0..tasks {
        let path = part_path(dir, t);
        let part = match std::fs::read(&path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(BatchError::io(&path, e)),
        };
        let part = &part[..whole_lines_len(&part)];
        for line in String::from_utf8_lossy(part).lines() {
            if let Some((_, p)) = read_sha256sum_line(line)
                && listed.insert(p.to_string())
            {
                text.extend_from_slice(line.as_bytes());
                text.push(b'\n');
            }
        }
    }
    if text.len() != before {
        write_atomic(&manifest, &text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_merge_once_beside_existing_lines() {
        let d = tempfile::tempdir().unwrap();
        let to = d.path();
        let dir = to.join(".scopeflow-batch/b1");
        std::fs::create_dir_all(&dir).unwrap();
        let old = format!("{}  raw/old.tif\n", "aa".repeat(32));
        std::fs::write(to.join(MANIFEST), &old).unwrap();
        let e = |p: &str, b: u8| (RelPath::new(p).unwrap(), Digest([b; 32]));
        append_part(&dir, 0, &[e("qc/a.json", 1)]).unwrap();
        append_part(&dir, 1, &[e("qc/b.json", 2), e("qc/a.json", 1)]).unwrap();
        merge(&dir, to, 2).unwrap();
        merge(&dir, to, 2).unwrap();
        let text = std::fs::read_to_string(to.join(MANIFEST)).unwrap();
        let paths: Vec<&str> = text.lines().map(|l| &l[66..]).collect();
        assert_eq!(paths, ["raw/old.tif", "qc/a.json", "qc/b.json"]);
        assert!(!dir.parent().unwrap().join("manifest.lock").exists());
    }
}
