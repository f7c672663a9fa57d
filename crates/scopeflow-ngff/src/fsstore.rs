//! A write-only zarr store over a staging folder.
//!
//! zarrs' `FilesystemStore` fsyncs every chunk file, which serialises a conversion on the
//! disk (thousands of fsyncs for one image). Chunks here are plain writes into a staging
//! folder that nobody reads until it is published; whoever needs the result durable (the
//! agent, before it records a state) syncs the finished tree once with [`sync_tree`].

use std::path::{Path, PathBuf};

use zarrs::storage::{
    Bytes, OffsetBytesIterator, StorageError, StoreKey, StorePrefix, WritableStorageTraits,
};

pub(crate) struct StagingStore {
    root: PathBuf,
}

impl StagingStore {
    pub(crate) fn new(root: &Path) -> Self {
        StagingStore {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key.strip_prefix('/').unwrap_or(key))
    }
}

impl WritableStorageTraits for StagingStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        let path = self.path(key.as_str());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &value)?;
        Ok(())
    }

    /// Never called: `supports_set_partial` is false and blocks are written whole.
    fn set_partial_many(
        &self,
        key: &StoreKey,
        _offset_values: OffsetBytesIterator<'_>,
    ) -> Result<(), StorageError> {
        Err(StorageError::Other(format!(
            "{}: partial writes are not supported",
            key.as_str()
        )))
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        match std::fs::remove_file(self.path(key.as_str())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        match std::fs::remove_dir_all(self.path(prefix.as_str())) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn supports_set_partial(&self) -> bool {
        false
    }
}

/// Flushes every file under `root` to disk, then the folders themselves, so a later rename
/// publishes complete data even across a power cut.
///
/// # Errors
/// A file or folder cannot be opened or synced.
pub fn sync_tree(root: &Path) -> std::io::Result<()> {
    // Linux, big trees: one `syncfs` flushes every file and folder entry of the filesystem
    // holding the tree, instead of one journal commit per chunk file (hundreds per image).
    // Small trees (a plate reader's image: a dozen files) are flushed file by file: `syncfs`
    // would also wait for everything else dirty on that disk, such as the microscope's own
    // writes in progress.
    #[cfg(target_os = "linux")]
    if count_files(root, SMALL_TREE)? > SMALL_TREE {
        rustix::fs::syncfs(std::fs::File::open(root)?)?;
        return Ok(());
    }
    sync_each(root)
}

/// Up to this many files, [`sync_tree`] flushes them one by one.
#[cfg(target_os = "linux")]
const SMALL_TREE: usize = 32;

/// The files under `root`, counting stopped past `limit`.
#[cfg(target_os = "linux")]
fn count_files(root: &Path, limit: usize) -> std::io::Result<usize> {
    let (mut dirs, mut n) = (vec![root.to_path_buf()], 0);
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            } else {
                n += 1;
                if n > limit {
                    return Ok(n);
                }
            }
        }
    }
    Ok(n)
}

fn sync_each(root: &Path) -> std::io::Result<()> {
    let mut dirs = vec![root.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for entry in std::fs::read_dir(&dirs[i])? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            } else {
                sync_file(&entry.path())?;
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        sync_dir(d)?;
    }
    Ok(())
}

/// Windows flushes a file only through a handle with write access (`FlushFileBuffers` on a
/// read-only handle is "Access denied"); Unix syncs through any descriptor, and opening
/// read-only there keeps working on files without write permission.
fn sync_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    options.write(true);
    options.open(path)?.sync_all()
}

/// Folder entries (new names) are durable only once the folder is synced; Windows has no
/// such call and commits names with the file.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
