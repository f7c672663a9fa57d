//! What is to be sent: one local file, or a folder tree listed once, sorted, links refused.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use scopeflow_transfer::{Digest, RelPath, TransferError};
use sha2::{Digest as _, Sha256};

use crate::error::Place;

pub(crate) enum Source {
    File {
        size: u64,
    },
    /// (path relative to the folder, '/'-separated; size), sorted by path.
    Tree(Vec<(String, u64)>),
}

/// Looks at `local` without following links: a link could send data from outside the folder
/// the caller meant (the local back-end refuses them too).
pub(crate) fn shape(ctx: &Place<'_>, local: &Path, rel: &RelPath) -> Result<Source, TransferError> {
    let meta = fs::symlink_metadata(local).map_err(|e| ctx.local("look up", local, e))?;
    if meta.is_file() {
        return Ok(Source::File { size: meta.len() });
    }
    if !meta.is_dir() {
        return Err(refused(ctx, local, &meta));
    }
    let mut files = Vec::new();
    let mut pending = vec![(local.to_path_buf(), String::new())];
    while let Some((dir, sub)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| ctx.local("list", &dir, e))? {
            let entry = entry.map_err(|e| ctx.local("list", &dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_str().ok_or_else(|| {
                ctx.invalid(&path.display().to_string(), "the name is not valid UTF-8")
            })?;
            let child = if sub.is_empty() {
                name.to_owned()
            } else {
                format!("{sub}/{name}")
            };
            // Every key must be a valid destination path (no control characters, …).
            rel.join(&child)?;
            let meta = fs::symlink_metadata(&path).map_err(|e| ctx.local("look up", &path, e))?;
            if meta.is_dir() {
                pending.push((path, child));
            } else if meta.is_file() {
                files.push((child, meta.len()));
            } else {
                return Err(refused(ctx, &path, &meta));
            }
        }
    }
    if files.is_empty() {
        return Err(ctx.invalid(
            &local.display().to_string(),
            "the folder holds no file; object storage has no empty folders",
        ));
    }
    files.sort();
    Ok(Source::Tree(files))
}

fn refused(ctx: &Place<'_>, path: &Path, meta: &fs::Metadata) -> TransferError {
    let what = if meta.file_type().is_symlink() {
        "a symbolic link is refused: it could point outside what is meant to be sent"
    } else {
        "neither a file nor a folder"
    };
    ctx.invalid(&path.display().to_string(), what)
}

pub(crate) fn sub_path(base: &Path, sub: &str) -> PathBuf {
    let mut p = base.to_path_buf();
    p.extend(sub.split('/'));
    p
}

/// Reads a whole (small) file and hashes it, on a blocking thread.
pub(crate) async fn read_small(path: PathBuf) -> io::Result<(Vec<u8>, Digest)> {
    blocking(move || {
        let bytes = fs::read(&path)?;
        let digest = Digest(Sha256::digest(&bytes).into());
        Ok((bytes, digest))
    })
    .await
}

/// `len` bytes from `offset`: one part of a multipart upload.
pub(crate) async fn read_range(path: PathBuf, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    blocking(move || {
        let mut f = File::open(&path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; len];
        f.read_exact(&mut buf)?;
        Ok(buf)
    })
    .await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}
