//! `manifest-sha256.txt`, kept so that `sha256sum -c` passes at all times.
//!
//! Whole lines are appended with one write per call and flushed; a crash can at worst leave a
//! partial last line, which the next append (or [`repair`] at start-up) cuts off first. Only
//! published files are listed, so every line checks.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;

use tracing::warn;

use super::durable::sync_dir;
use super::root::Root;
use crate::{Digest, MANIFEST, RelPath, TransferError};

pub(super) fn record(root: &Root, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
    let mut text = String::with_capacity(entries.len() * 100);
    for (path, digest) in entries {
        push_line(root, &mut text, path, digest)?;
    }
    if entries.is_empty() {
        return Ok(());
    }
    root.ensure(false)?;
    for (path, _) in entries {
        let p = path.under(&root.path);
        match fs::metadata(&p) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(root.invalid(
                    path.as_str(),
                    "not a file: record lists files, one line each",
                ));
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(root.invalid(
                    path.as_str(),
                    "not published: record a file only after its put succeeded",
                ));
            }
            Err(e) => return Err(root.err("look up", &p, e)),
        }
    }

    let _guard = root.lock_manifest();
    let manifest = root.path.join(MANIFEST);
    let created = !root.exists(&manifest)?;
    // Repair, truncation and fsync go through a read-write handle, the append through an
    // append-only one: Windows refuses to truncate or flush through an append-only handle, and
    // append mode makes each write land at the end even if another process appends too.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&manifest)
        .map_err(|e| root.err("open", &manifest, e))?;
    cut_torn_line(root, &mut file, &manifest)?;
    let len = file
        .metadata()
        .map_err(|e| root.err("look up", &manifest, e))?
        .len();
    let appended = OpenOptions::new()
        .append(true)
        .open(&manifest)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all());
    if let Err(e) = appended {
        // A failed append (disk full) may have left part of our lines: cut back to where we began.
        let _ = file.set_len(len).and_then(|()| file.sync_all());
        return Err(root.err("append to", &manifest, e));
    }
    if created {
        sync_dir(&root.path).map_err(|e| root.err("flush folder", &root.path, e))?;
    }
    Ok(())
}

/// Paths of `entries` that the manifest does not list yet. Reads the whole manifest, so it is
/// for the rare retry after a crash, not for every record.
pub(super) fn missing(
    root: &Root,
    entries: &[(RelPath, Digest)],
) -> Result<Vec<(RelPath, Digest)>, TransferError> {
    use std::collections::HashSet;
    use std::io::BufRead;
    let manifest = root.path.join(MANIFEST);
    let file = match File::open(&manifest) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(entries.to_vec()),
        Err(e) => return Err(root.err("open", &manifest, e)),
    };
    let wanted: HashSet<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    let mut listed: HashSet<String> = HashSet::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| root.err("read", &manifest, e))?;
        if let Some((_, path)) = crate::sha256sum::read_line(&line)
            && wanted.contains(path)
        {
            listed.insert(path.to_string());
        }
    }
    Ok(entries
        .iter()
        .filter(|(p, _)| !listed.contains(p.as_str()))
        .cloned()
        .collect())
}

/// Start-up repair: cuts a partial last line left by a crash. `true` if one was cut.
pub(super) fn repair(root: &Root) -> Result<bool, TransferError> {
    root.ensure(false)?;
    let _guard = root.lock_manifest();
    let manifest = root.path.join(MANIFEST);
    let mut file = match OpenOptions::new().read(true).write(true).open(&manifest) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(root.err("open", &manifest, e)),
    };
    cut_torn_line(root, &mut file, &manifest)
}

fn push_line(
    root: &Root,
    text: &mut String,
    path: &RelPath,
    digest: &Digest,
) -> Result<(), TransferError> {
    crate::sha256sum::push_line(text, path, digest).map_err(|why| root.invalid(path.as_str(), why))
}

fn cut_torn_line(root: &Root, file: &mut File, manifest: &Path) -> Result<bool, TransferError> {
    let io = |e| root.err("repair", manifest, e);
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1)).map_err(io)?;
    file.read_exact(&mut last).map_err(io)?;
    if last[0] == b'\n' {
        return Ok(false);
    }
    // Search backwards, block by block, for the end of the last whole line.
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    let mut keep = 0;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(chunk).map_err(io)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            keep = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    file.set_len(keep).map_err(io)?;
    file.sync_all().map_err(io)?;
    warn!(
        destination = %root.name,
        manifest = %manifest.display(),
        cut = len - keep,
        "cut a partial last line from the manifest (left by a crash)"
    );
    Ok(true)
}
