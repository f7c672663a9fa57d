//! The only code in scopeflow that deletes or moves a raw file (`LocalPurge` in STYLE.md):
//! destinations never delete, the agent never touches a raw file after reading it.
//!
//! Each operation is one atomic file-system step (unlink, or rename within one disk), and the
//! folder holding the change is synced before the journal is told, so after a crash the file
//! is either still in place or fully gone/moved, never half-handled.

use std::io;
use std::path::{Path, PathBuf};

/// Where trash mode puts version `version` of `rel`: its relative path under the trash root,
/// with `~vN` before the extension from version 2 on (as at the destinations), so two
/// versions of one path never collide.
pub(crate) fn trash_target(trash_root: &Path, rel: &str, version: i64) -> PathBuf {
    let named = scopeflow_destinations::outputs(rel, version, false).raw;
    let rel = named.strip_prefix("raw/").unwrap_or(&named);
    rel.split('/')
        .fold(trash_root.to_path_buf(), |p, c| p.join(c))
}

/// Deletes a raw file, clearing the read-only attribute first on Windows (`protect_raw` sets
/// it, and Windows refuses to delete read-only files; Unix only needs the folder writable).
pub(crate) fn delete(path: &Path) -> io::Result<()> {
    writable_on_windows(path);
    std::fs::remove_file(path)?;
    sync_parent(path)
}

/// Moves a raw file into the trash, creating its folders, never replacing anything there.
/// `CrossesDevices` (trash on another disk) is refused: the robot never copies a raw file.
pub(crate) fn move_to_trash(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("the trash already holds {}", to.display()),
        ));
    }
    std::fs::rename(from, to)?;
    sync_parent(to)?;
    sync_parent(from)
}

/// Makes a delete or rename durable: on Unix the folder entry is synced; Windows (NTFS)
/// journals metadata changes itself and cannot open a folder for syncing.
fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(windows)]
fn writable_on_windows(path: &Path) {
    if let Ok(m) = std::fs::metadata(path) {
        let mut p = m.permissions();
        if p.readonly() {
            #[allow(clippy::permissions_set_readonly_false)]
            p.set_readonly(false);
            let _ = std::fs::set_permissions(path, p);
        }
    }
}

#[cfg(not(windows))]
fn writable_on_windows(_: &Path) {}

/// Test hook: with `SCOPEFLOW_RETENTION_FAULT=<point>`, the process aborts at that point, as
/// a `kill -9` would, so tests can place a crash exactly between two steps.
pub(crate) fn crash_point(point: &str) {
    if std::env::var("SCOPEFLOW_RETENTION_FAULT").is_ok_and(|v| v == point) {
        eprintln!("scopeflow retention: SCOPEFLOW_RETENTION_FAULT={point}: aborting");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trash_keeps_the_relative_path_and_versions_apart() {
        let root = Path::new("trash");
        assert_eq!(
            trash_target(root, "d/a.tif", 1),
            root.join("d").join("a.tif")
        );
        assert_eq!(
            trash_target(root, "d/a.ome.tif", 2),
            root.join("d").join("a~v2.ome.tif")
        );
    }

    #[test]
    fn delete_removes_a_read_only_file_and_trash_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.tif");
        std::fs::write(&f, b"x").unwrap();
        let mut p = std::fs::metadata(&f).unwrap().permissions();
        p.set_readonly(true);
        std::fs::set_permissions(&f, p).unwrap();
        let t = dir.path().join("trash/sub/a.tif");
        std::fs::create_dir_all(t.parent().unwrap()).unwrap();
        std::fs::write(&t, b"other").unwrap();
        let e = move_to_trash(&f, &t).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(f.is_file(), "a refused move leaves the file in place");
        assert_eq!(std::fs::read(&t).unwrap(), b"other");
        let t2 = dir.path().join("trash/new/a.tif");
        move_to_trash(&f, &t2).unwrap();
        assert!(!f.exists() && t2.is_file());
        delete(&t2).unwrap();
        assert!(!t2.exists());
    }
}
