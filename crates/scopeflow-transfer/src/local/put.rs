//! Publishing a copy: temporary, flush, read back, then one atomic step that never replaces
//! anything already there.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tracing::{debug, info};

use super::durable::{drop_cache, hash_stored, send_rest, sync_dir, sync_file, sync_filesystem};
use super::parallel;
use super::root::Root;
use super::temporary::Temporary;
use super::tree::{Shape, Tree, WalkError, shape, sub_path};
use crate::clock::now_rfc3339;
use crate::digest::{BLOCK, hash_reader, read_block};
use crate::{Digest, KnownDigests, MANIFEST, Receipt, RelPath, TransferError};

/// How the bytes reach the temporary: copied, or (a derived output the caller flushed and will
/// not modify) linked when the filesystem allows, falling back to a copy.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Copy,
    Link,
    /// A file copied without hashing it on the way: the caller hashed these bytes already
    /// (sha256, size), and the read-back is compared with that.
    Known(Digest, u64),
}

pub(super) fn put(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    mode: Mode,
) -> Result<Receipt, TransferError> {
    put_with(root, local, rel, mode, &KnownDigests::new())
}

/// A derived output, linked where it can be; `known` as for [`Destination::put_derived`].
///
/// [`Destination::put_derived`]: crate::Destination::put_derived
pub(super) fn put_linked(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    known: &KnownDigests,
) -> Result<Receipt, TransferError> {
    put_with(root, local, rel, Mode::Link, known)
}

fn put_with(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    mut mode: Mode,
    known: &KnownDigests,
) -> Result<Receipt, TransferError> {
    if rel.as_str() == MANIFEST {
        return Err(root.invalid(
            rel.as_str(),
            "this name is reserved for the destination manifest",
        ));
    }
    let source = match shape(local, true) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(root.invalid(local.display().to_string(), "the source does not exist"));
        }
        Err(WalkError::Io { path, op, source }) => return Err(root.src_err(op, &path, source)),
        Err(WalkError::Refused { path, reason }) => {
            return Err(root.invalid(path.display().to_string(), reason));
        }
    };
    if matches!(source, Shape::Tree(_)) && matches!(mode, Mode::Known(..)) {
        // A digest describes one file: a folder is hashed file by file on its way.
        mode = Mode::Copy;
    }
    let Some(target) = free_target(root, rel)? else {
        let raw = match mode {
            Mode::Known(d, n) => Some((d, n)),
            _ => None,
        };
        let raw = raw.as_ref().map(std::slice::from_ref);
        return settle_existing(root, local, rel, &source, raw);
    };
    let mut buf = Vec::new();
    let receipt = match &source {
        Shape::File { .. } => {
            let known = known.get("").copied();
            put_file(root, local, rel, &target, &mut buf, &mut mode, known)?
        }
        Shape::Tree(tree) => put_tree(root, local, rel, &target, tree, &mut buf, &mut mode, known)?,
    };
    info!(destination = %root.name, path = %rel, files = receipt.files.len(), "published");
    Ok(receipt)
}

/// Where `rel` goes, with its folder created; `None` when something is already there.
fn free_target(root: &Root, rel: &RelPath) -> Result<Option<PathBuf>, TransferError> {
    root.ensure(true)?;
    let target = rel.under(&root.path);
    if root.exists(&target)? {
        return Ok(None);
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(|e| root.err("create folder", parent, e))?;
    }
    Ok(Some(target))
}

fn put_file(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    target: &Path,
    buf: &mut Vec<u8>,
    mode: &mut Mode,
    known: Option<(Digest, u64)>,
) -> Result<Receipt, TransferError> {
    let temp = Temporary::beside(target);
    let sent = transfer(root, local, temp.path(), buf, true, mode, known)?;
    let back = hash_stored(temp.path()).map_err(|e| root.err("read back", temp.path(), e))?;
    let known = matches!(mode, Mode::Known(..));
    publish_checked(root, local, rel, temp, target, sent, back, known)
}

/// Publishes a flushed temporary copy whose read-back `back` matches `sent`; a copy that
/// differs is removed (`known`: `sent` is the digest computed while converting).
#[allow(clippy::too_many_arguments)]
fn publish_checked(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    temp: Temporary,
    target: &Path,
    sent: (Digest, u64),
    back: (Digest, u64),
    known: bool,
) -> Result<Receipt, TransferError> {
    if back != sent {
        let mut detail = describe_pair(rel.as_str(), sent, back);
        if known {
            detail.push_str(
                " (when it was converted): the file changed since, or the copy is damaged",
            );
        }
        return Err(caught(root, rel, detail));
    }
    if !publish_file(root, temp, target)? {
        return settle_existing(
            root,
            local,
            rel,
            &Shape::File { size: sent.1 },
            Some(&[sent]),
        );
    }
    sync_ancestors(root, target)?;
    Ok(Receipt {
        files: vec![(rel.clone(), back.0, back.1)],
        verified_at: now_rfc3339(),
    })
}

/// A raw copy made before its digest is known (the agent copies while it converts), flushed
/// and read back under its temporary name; [`finish`] publishes it once the digest is known.
pub(super) enum Staged {
    Copied {
        temp: Temporary,
        target: PathBuf,
        back: (Digest, u64),
    },
    /// `rel` already held something: it is checked against the digest, as a put would.
    Exists,
    /// Not a plain file to a name a put accepts: left to an ordinary put once the digest is
    /// known, which reports what is wrong.
    Unstaged,
}

/// The first half of a [`Mode::Known`] put: everything but the comparison and the publish.
pub(super) fn stage(root: &Root, local: &Path, rel: &RelPath) -> Result<Staged, TransferError> {
    if rel.as_str() == MANIFEST || !matches!(shape(local, true), Ok(Some(Shape::File { .. }))) {
        return Ok(Staged::Unstaged);
    }
    let Some(target) = free_target(root, rel)? else {
        return Ok(Staged::Exists);
    };
    let temp = Temporary::beside(&target);
    copy(root, local, temp.path(), &mut Vec::new(), true, None)?;
    let back = hash_stored(temp.path()).map_err(|e| root.err("read back", temp.path(), e))?;
    Ok(Staged::Copied { temp, target, back })
}

/// The second half: the staged copy is published if it reads back as `expected` (what was
/// converted), else removed.
pub(super) fn finish(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    staged: Staged,
    expected: (Digest, u64),
) -> Result<Receipt, TransferError> {
    match staged {
        Staged::Copied { temp, target, back } => {
            let receipt = publish_checked(root, local, rel, temp, &target, expected, back, true)?;
            info!(destination = %root.name, path = %rel, files = 1, "published");
            Ok(receipt)
        }
        Staged::Exists => settle_existing(
            root,
            local,
            rel,
            &Shape::File { size: expected.1 },
            Some(&[expected]),
        ),
        Staged::Unstaged => put(root, local, rel, Mode::Known(expected.0, expected.1)),
    }
}

#[allow(clippy::too_many_arguments)]
fn put_tree(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    target: &Path,
    tree: &Tree,
    buf: &mut Vec<u8>,
    mode: &mut Mode,
    known: &KnownDigests,
) -> Result<Receipt, TransferError> {
    let temp = Temporary::beside(target);
    fs::create_dir(temp.path()).map_err(|e| root.err("create folder", temp.path(), e))?;
    for dir in &tree.dirs {
        let p = sub_path(temp.path(), dir);
        fs::create_dir(&p).map_err(|e| root.err("create folder", &p, e))?;
    }
    let mut sent = Vec::with_capacity(tree.files.len());
    for (sub, _) in &tree.files {
        sent.push(transfer(
            root,
            &sub_path(local, sub),
            &sub_path(temp.path(), sub),
            buf,
            false,
            mode,
            known.get(sub).copied(),
        )?);
    }
    // Linked files are the caller's, already flushed (the `put_derived` contract): only the
    // new folder entries need flushing, below.
    let synced = *mode == Mode::Link
        || sync_filesystem(temp.path()).map_err(|e| root.err("flush", temp.path(), e))?;
    if !synced {
        for (sub, _) in &tree.files {
            let p = sub_path(temp.path(), sub);
            sync_file(&p).map_err(|e| root.err("flush", &p, e))?;
        }
    }
    // Every folder is flushed before the rename publishes them, in any order.
    parallel::each(&tree.dirs, parallel::FLUSH_THREADS, |dir| {
        let p = sub_path(temp.path(), dir);
        sync_dir(&p).map_err(|e| root.err("flush folder", &p, e))
    })?;
    sync_dir(temp.path()).map_err(|e| root.err("flush folder", temp.path(), e))?;

    let backs = parallel::each(&tree.files, parallel::hashing_threads(), |(sub, _)| {
        let p = sub_path(temp.path(), sub);
        hash_stored(&p).map_err(|e| root.err("read back", &p, e))
    })?;
    let mut files = Vec::with_capacity(tree.files.len());
    let mut wrong = Vec::new();
    for (((sub, _), sent), back) in tree.files.iter().zip(&sent).zip(backs) {
        if back != *sent {
            wrong.push(describe_pair(sub, *sent, back));
        }
        files.push((rel.join(sub)?, back.0, back.1));
    }
    if !wrong.is_empty() {
        return Err(caught(root, rel, summarise(&wrong, tree.files.len())));
    }

    // A folder rename never replaces a non-empty folder or a file, on Unix or Windows.
    if let Err(e) = fs::rename(temp.path(), target) {
        if root.exists(target)? {
            drop(temp);
            return settle_existing(root, local, rel, &Shape::Tree(tree.clone()), Some(&sent));
        }
        return Err(root.err("rename into place", temp.path(), e));
    }
    temp.disarm();
    sync_ancestors(root, target)?;
    Ok(Receipt {
        files,
        verified_at: now_rfc3339(),
    })
}

/// One file to its temporary name, by link when `mode` says so and the filesystem allows (the
/// first refusal switches `mode` to copying for the rest of the put). The digest sent is
/// `known` (what the caller wrote) when given, else the source's, hashed from memory where it
/// still is; the read-back then reads the stored file from the disk, which is what proves it.
#[allow(clippy::too_many_arguments)]
fn transfer(
    root: &Root,
    from: &Path,
    to: &Path,
    buf: &mut Vec<u8>,
    flush: bool,
    mode: &mut Mode,
    known: Option<(Digest, u64)>,
) -> Result<(Digest, u64), TransferError> {
    let known = match *mode {
        Mode::Known(digest, size) => Some((digest, size)),
        _ => known,
    };
    if *mode == Mode::Link {
        match fs::hard_link(from, to) {
            Ok(()) => {
                let sent = match known {
                    Some(k) => k,
                    None => File::open(from)
                        .and_then(|mut f| {
                            let size = f.metadata()?.len();
                            hash_reader(&mut f, size)
                        })
                        .map_err(|e| root.src_err("read", from, e))?,
                };
                if flush {
                    sync_file(to).map_err(|e| root.err("flush", to, e))?;
                }
                return Ok(sent);
            }
            Err(e) => {
                debug!(error = %e, from = %from.display(), "cannot link; copying instead");
                *mode = Mode::Copy;
            }
        }
    }
    if let Some(k) = known {
        copy(root, from, to, buf, flush, None)?;
        return Ok(k);
    }
    let mut hasher = Sha256::new();
    let size = copy(root, from, to, buf, flush, Some(&mut hasher))?;
    Ok((Digest::of(hasher), size))
}

/// Copies one file to a new name, hashing the bytes on their way into `hasher` if given (else
/// they go through the kernel where it can); flushed before returning when `flush` (a folder
/// put flushes all its files at once afterwards). Returns the size copied.
fn copy(
    root: &Root,
    from: &Path,
    to: &Path,
    buf: &mut Vec<u8>,
    flush: bool,
    mut hasher: Option<&mut Sha256>,
) -> Result<u64, TransferError> {
    let mut input = File::open(from).map_err(|e| root.src_err("open", from, e))?;
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| root.err("create", to, e))?;
    buf.resize(BLOCK, 0);
    // Bytes that need no hashing need not pass through our memory either.
    let mut total = if hasher.is_some() {
        0
    } else {
        send_rest(&input, &out)
    };
    loop {
        let n = read_block(&mut input, buf).map_err(|e| root.src_err("read", from, e))?;
        if n == 0 {
            break;
        }
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf[..n]);
        }
        out.write_all(&buf[..n])
            .map_err(|e| root.err("write", to, e))?;
        total += n as u64;
    }
    if flush {
        out.sync_all().map_err(|e| root.err("flush", to, e))?;
        drop_cache(&out);
    }
    Ok(total)
}

/// Gives the flushed temporary its final name without ever replacing what is there. Returns
/// `false` if something was already there (the temporary is then removed).
///
/// A hard link fails if the name is taken, which makes the publish no-clobber on Unix and NTFS.
/// File systems without hard links (FAT, some SMB shares) get a rename after checking the name
/// is free: a writer racing in between those two steps could be replaced, the one gap left.
fn publish_file(root: &Root, temp: Temporary, target: &Path) -> Result<bool, TransferError> {
    match fs::hard_link(temp.path(), target) {
        // Dropping `temp` removes its name; the copy stays under `target`.
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(link_err) => {
            debug!(error = %link_err, "hard link refused; publishing by rename");
            if root.exists(target)? {
                return Ok(false);
            }
            fs::rename(temp.path(), target)
                .map_err(|e| root.err("rename into place", temp.path(), e))?;
            temp.disarm();
            Ok(true)
        }
    }
}

/// `rel` already holds something: succeed if it is exactly what we would send (with the digests
/// read back from it), else refuse. `sent` (digests of what was just copied, in the source's
/// file order) spares hashing the source again.
fn settle_existing(
    root: &Root,
    local: &Path,
    rel: &RelPath,
    source: &Shape,
    sent: Option<&[(Digest, u64)]>,
) -> Result<Receipt, TransferError> {
    let target = rel.under(&root.path);
    let conflict = |detail: String| TransferError::Conflict {
        dest: root.name.clone(),
        path: rel.to_string(),
        detail,
    };
    let stored = match shape(&target, false) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(root.err("look up", &target, ErrorKind::NotFound.into()));
        }
        Err(WalkError::Io { path, op, source }) => return Err(root.err(op, &path, source)),
        Err(WalkError::Refused { path, reason }) => {
            return Err(conflict(format!("{}: {reason}", path.display())));
        }
    };
    // (sub-path, source file, stored file) for every file, once both sides list the same sizes.
    let pairs: Vec<(String, PathBuf, PathBuf)> = match (source, &stored) {
        (Shape::File { size }, Shape::File { size: have }) => {
            if size != have {
                return Err(conflict(format!(
                    "{have} bytes stored, {size} bytes to send"
                )));
            }
            vec![(String::new(), local.to_owned(), target.clone())]
        }
        (Shape::Tree(ours), Shape::Tree(theirs)) => {
            if let Some(diff) = crate::remote::first_listing_difference(&ours.files, &theirs.files)
            {
                return Err(conflict(diff));
            }
            ours.files
                .iter()
                .map(|(sub, _)| (sub.clone(), sub_path(local, sub), sub_path(&target, sub)))
                .collect()
        }
        (Shape::File { .. }, Shape::Tree(_)) => {
            return Err(conflict("a folder is stored, a file is to be sent".into()));
        }
        (Shape::Tree(_), Shape::File { .. }) => {
            return Err(conflict("a file is stored, a folder is to be sent".into()));
        }
    };
    let mut files = Vec::with_capacity(pairs.len());
    for (i, (sub, src, dst)) in pairs.iter().enumerate() {
        let have = hash_stored(dst).map_err(|e| root.err("read back", dst, e))?;
        let want = match sent.and_then(|s| s.get(i)) {
            Some(known) => *known,
            None => File::open(src)
                .and_then(|mut f| hash_reader(&mut f, BLOCK as u64))
                .map_err(|e| root.src_err("read", src, e))?,
        };
        if have != want {
            let name = if sub.is_empty() { rel.as_str() } else { sub };
            return Err(conflict(format!(
                "{name}: sha256 {} stored, {} to send",
                have.0, want.0
            )));
        }
        let path = if sub.is_empty() {
            rel.clone()
        } else {
            rel.join(sub)?
        };
        files.push((path, have.0, have.1));
    }
    debug!(destination = %root.name, path = %rel, "already holds the same copy");
    Ok(Receipt {
        files,
        verified_at: now_rfc3339(),
    })
}

/// Flushes every folder from the target's up to the root, so the published name and any folder
/// created for it survive a power cut before the caller records the copy.
fn sync_ancestors(root: &Root, target: &Path) -> Result<(), TransferError> {
    let mut dir = target.parent();
    while let Some(d) = dir {
        sync_dir(d).map_err(|e| root.err("flush folder", d, e))?;
        if d == root.path {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

fn caught(root: &Root, rel: &RelPath, detail: String) -> TransferError {
    TransferError::Mismatch {
        dest: root.name.clone(),
        path: rel.to_string(),
        detail,
        published: false,
    }
}

fn describe_pair(name: &str, sent: (Digest, u64), back: (Digest, u64)) -> String {
    format!(
        "{name}: read back sha256 {} ({} bytes), sent {} ({} bytes)",
        back.0, back.1, sent.0, sent.1
    )
}

/// At most a few file names: the message has to fit a log line and a dashboard cell.
pub(super) fn summarise(problems: &[String], total: usize) -> String {
    const SHOWN: usize = 5;
    let mut s = format!("{} of {total} files differ: ", problems.len());
    s.push_str(&problems[..problems.len().min(SHOWN)].join("; "));
    if problems.len() > SHOWN {
        s.push_str("; …");
    }
    s
}
