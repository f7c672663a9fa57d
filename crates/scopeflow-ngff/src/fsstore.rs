//! A write-only zarr store over a staging folder.
//!
//! zarrs' `FilesystemStore` fsyncs every chunk file, which serialises a conversion on the
//! disk (thousands of fsyncs for one image). Chunks here are plain writes into a staging
//! folder that nobody reads until it is published; whoever needs the result durable (the
//! agent, before it records a state) syncs the finished tree once with [`sync_tree`].
//!
//! For a caller that will flush and copy the output (the agent), the store can also hash each
//! file as it writes it, on the conversion's own threads: the copies are then checked against
//! what was written, and the output is not read again to learn it ([`Written`]). It can also
//! start each file's writeback at once, so the disk works while the cores compress and the
//! final flush finds little left to write.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use zarrs::storage::{
    Bytes, OffsetBytesIterator, StorageError, StoreKey, StorePrefix, WritableStorageTraits,
};

pub(crate) struct StagingStore {
    root: PathBuf,
    /// Where digests go, and this store's folder relative to the output ('/'-terminated, or
    /// empty), which prefixes its keys there.
    written: Option<(Arc<Written>, String)>,
    writeback: bool,
}

/// The SHA-256 and size of every file written under an output, by its '/'-separated path
/// relative to the output folder (files written outside the store, such as group metadata,
/// are not listed).
pub type FileDigests = BTreeMap<String, ([u8; 32], u64)>;

/// Collects [`FileDigests`] from every store writing under one output folder.
pub(crate) struct Written {
    top: PathBuf,
    files: Mutex<FileDigests>,
}

impl Written {
    pub(crate) fn new(top: &Path) -> Arc<Written> {
        Arc::new(Written {
            top: top.to_path_buf(),
            files: Mutex::new(BTreeMap::new()),
        })
    }

    /// `root` relative to the output folder, '/'-separated and '/'-terminated (empty for the
    /// output folder itself); `None` outside it, whose files are then not listed.
    fn prefix(&self, root: &Path) -> Option<String> {
        let rel = root.strip_prefix(&self.top).ok()?;
        Some(
            rel.iter()
                .map(|c| format!("{}/", c.to_string_lossy()))
                .collect(),
        )
    }

    fn record(&self, rel: String, bytes: &[u8]) {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.insert(rel, (digest, bytes.len() as u64));
    }

    pub(crate) fn take(&self) -> FileDigests {
        std::mem::take(&mut *self.files.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl StagingStore {
    pub(crate) fn new(root: &Path, written: Option<Arc<Written>>, writeback: bool) -> Self {
        let written = written.and_then(|w| w.prefix(root).map(|p| (w, p)));
        StagingStore {
            root: root.to_path_buf(),
            written,
            writeback,
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key_rel(key))
    }
}

/// A store key ('/'-separated, maybe with a leading '/') relative to the store's folder.
fn key_rel(key: &str) -> &str {
    key.strip_prefix('/').unwrap_or(key)
}

impl WritableStorageTraits for StagingStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        let path = self.path(key.as_str());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&value)?;
        if self.writeback {
            start_writeback(&file);
        }
        if let Some((w, prefix)) = &self.written {
            w.record(format!("{prefix}{}", key_rel(key.as_str())), &value);
        }
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

/// Asks the kernel to start writing `file` to disk now, without waiting (Linux; elsewhere the
/// final flush does it all). Best effort: a failure here only leaves the work to that flush.
fn start_writeback(file: &std::fs::File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        #[allow(unsafe_code, reason = "one libc call rustix does not wrap")]
        // SAFETY: a valid open descriptor; offset 0 and length 0 mean the whole file, and the
        // flag only queues writeback.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
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
