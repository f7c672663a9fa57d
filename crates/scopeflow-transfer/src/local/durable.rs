//! Getting bytes onto stable storage, and reading them back from there rather than from memory.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::Digest;
use crate::digest::hash_reader;

/// Makes a folder's entries (a new file, a rename) survive a power cut.
///
/// Unix needs an fsync of the folder itself. Windows cannot open a folder as a plain file, and
/// NTFS journals its metadata, so there it is a no-op. File systems that cannot sync a folder
/// (some network ones answer EINVAL) are taken at their word.
pub(super) fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(path)?.sync_all() {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
                ) =>
            {
                Ok(())
            }
            other => other,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Flushes one written file. Windows flushes only through a handle with write access
/// (`FlushFileBuffers` on a read-only handle fails with "Access denied"); Unix through any.
pub(super) fn sync_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    options.write(true);
    options.open(path)?.sync_all()
}

/// Flushes many freshly written files under `dir` at once. Linux: one `syncfs` of the
/// filesystem holding `dir`, instead of one journal commit per file (an OME-Zarr holds hundreds
/// of chunk files); returns false elsewhere, where the caller syncs file by file.
pub(super) fn sync_filesystem(dir: &Path) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(File::open(dir)?)?;
        Ok(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Ok(false)
    }
}

/// Moves the rest of `input` to `out` inside the kernel where it can: Linux's `sendfile` takes
/// the bytes from the page cache to the page cache without a trip through our memory (one copy
/// instead of two: a second of CPU per 2.5 GB of raw files on the benchmark machine), and unlike
/// `copy_file_range` (which `std::io::copy` tries first) it never shares extents on XFS or
/// Btrfs: a raw copy must be an independent copy of the bytes. Returns how many bytes it
/// moved; it stops at end of file or at the first error, and the caller's read/write loop goes
/// on from there, so a failure is reported by the side (source or destination) that has it.
pub(super) fn send_rest(input: &File, out: &File) -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut moved = 0;
        while let Ok(n @ 1..) = rustix::fs::sendfile(out, input, None, 1 << 30) {
            moved += n as u64;
        }
        moved
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (input, out);
        0
    }
}

/// Drops a flushed file's pages from the cache, so the next read comes from the disk or the NFS
/// server: a read-back served from the memory we just wrote would prove nothing. Best effort:
/// only Linux offers it cheaply, elsewhere reads go through the cache.
pub(super) fn drop_cache(file: &File) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = file;
    }
}

/// The sha256 and size of a stored file as the storage returns it: read directly from the disk
/// where the system allows ([`super::direct`]), else through the cache after dropping the
/// file's pages (see [`drop_cache`]), which are dropped again so that checking a destination
/// does not evict useful cache.
pub(super) fn hash_stored(path: &Path) -> io::Result<(Digest, u64)> {
    #[cfg(target_os = "linux")]
    if let Some(found) = super::direct::hash(path) {
        return Ok(found);
    }
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    drop_cache(&file);
    let out = hash_reader(&mut file, size)?;
    drop_cache(&file);
    Ok(out)
}
