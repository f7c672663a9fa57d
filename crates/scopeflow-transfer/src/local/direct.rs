//! Reading a stored file back from the disk itself rather than from the page cache (Linux:
//! `O_DIRECT`).
//!
//! A read-back served from memory would prove nothing. Reading through the cache and then
//! dropping it works too, but costs a copy of every byte on a core the conversion needs, and
//! the kernel's page bookkeeping; a direct read lands in our buffer. Direct reads get no
//! readahead, so a file larger than one buffer is read by a second thread while this one
//! hashes. Filesystems that refuse direct reads (tmpfs, some network ones) answer `None`, and
//! so does anything unexpected (a short read mid-file): the caller then reads through the
//! cache, which reports any real error itself.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

use sha2::{Digest as _, Sha256};

use crate::Digest;

/// Buffer address, length and file offsets of a direct read must be multiples of the device's
/// block size: 4 KiB covers every disk in use.
const ALIGN: usize = 4096;
/// One direct read: large enough that the device streams.
const CHUNK: usize = 1 << 20;
/// Buffers in flight for a large file: one being read, one being hashed, one spare.
const IN_FLIGHT: usize = 3;

struct Buffer {
    bytes: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn new() -> Option<Buffer> {
        let bytes = vec![0u8; CHUNK + ALIGN];
        let start = bytes.as_ptr().align_offset(ALIGN);
        (start < ALIGN).then_some(Buffer { bytes, start })
    }

    /// The first `len` bytes of the aligned block (`len` a multiple of [`ALIGN`], at most
    /// [`CHUNK`]).
    fn block(&mut self, len: usize) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + len]
    }

    fn filled(&self, n: usize) -> &[u8] {
        &self.bytes[self.start..self.start + n]
    }
}

/// Buffers kept between files, for the whole process: an OME-Zarr is hundreds of chunk files,
/// and zeroing a fresh buffer for each would cost what the direct read saves, while
/// buffers kept per thread would pile up in the allocator's per-thread arenas.
static SPARE: Mutex<Vec<Buffer>> = Mutex::new(Vec::new());

/// At most this many buffers are kept (8 MiB): a few read-backs at once.
const KEPT: usize = 8;

fn take() -> Option<Buffer> {
    let kept = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    kept.or_else(Buffer::new)
}

fn give(b: Buffer) {
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if spare.len() < KEPT {
        spare.push(b);
    }
}

fn open_direct(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
}

/// The sha256 and size of `path` as the disk returns them; `None`: read it through the cache.
pub(super) fn hash(path: &Path) -> Option<(Digest, u64)> {
    let file = open_direct(path).ok()?;
    let size = file.metadata().ok()?.len();
    let out = if size < CHUNK as u64 {
        whole(&file, size as usize)
    } else {
        pipelined(&file, size)
    };
    // Pages cached from writing the file (a linked output) are not needed again.
    super::durable::drop_cache(&file);
    // Reads stop at the size found at the start: a file that changed length meanwhile is read
    // again the ordinary way, to its end.
    let same = file.metadata().ok()?.len() == size;
    out.filter(|&(_, n)| n == size && same)
}

fn whole(file: &File, size: usize) -> Option<(Digest, u64)> {
    let mut buf = take()?;
    let n = read_direct(file, buf.block(aligned(size))).ok()?;
    let digest = Digest(Sha256::digest(buf.filled(n)).into());
    give(buf);
    Some((digest, n as u64))
}

/// What a read of the `n` bytes left asks for. Never more: the kernel zero-fills the part of a
/// direct read past the end of the file, which for a small file asked a whole buffer cost
/// more than reading it.
fn aligned(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// One thread reads the next buffer while this one hashes the last.
fn pipelined(file: &File, size: u64) -> Option<(Digest, u64)> {
    let (full_tx, full_rx) = sync_channel::<Option<(Buffer, usize)>>(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Buffer>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        empty_tx.send(take()?).ok()?;
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut left = size;
            while let Ok(mut b) = empty_rx.recv() {
                let ask = aligned(usize::try_from(left).unwrap_or(CHUNK).min(CHUNK));
                let read = read_direct(file, b.block(ask)).ok();
                left = left.saturating_sub(read.unwrap_or(0) as u64);
                // A read shorter than asked is the end of the file.
                let last = read != Some(ask) || left == 0;
                if full_tx.send(read.map(|n| (b, n))).is_err() || last {
                    break;
                }
            }
            empty_rx
        });
        let mut out = Some((Sha256::new(), 0u64));
        for msg in &full_rx {
            match (msg, out.as_mut()) {
                (Some((b, n)), Some((hasher, total))) => {
                    hasher.update(b.filled(n));
                    *total += n as u64;
                    let _ = empty_tx.send(b);
                }
                (Some((b, _)), None) => give(b),
                (None, _) => out = None,
            }
        }
        let empty_rx = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        empty_rx.try_iter().for_each(give);
        out.map(|(hasher, total)| (Digest::of(hasher), total))
    })
}

fn read_direct(mut file: &File, block: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(block) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the buffer and alignment boundaries, hashed the direct way and the plain
    /// way. Where the temporary folder refuses direct reads (tmpfs), `None` is the answer.
    #[test]
    fn direct_reads_hash_as_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        for size in [
            0,
            1,
            4095,
            4096,
            4097,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 12_345,
        ] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, &bytes).unwrap();
            let plain = Digest(Sha256::digest(&bytes).into());
            match hash(&path) {
                Some(got) => assert_eq!(got, (plain, size as u64), "{size} bytes"),
                None => assert!(
                    open_direct(&path).is_err(),
                    "{size} bytes: direct reads work here but were not used"
                ),
            }
        }
    }
}
