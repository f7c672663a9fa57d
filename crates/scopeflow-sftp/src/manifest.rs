//! `manifest-sha256.txt` at the remote root, kept so that `sha256sum -c` passes at all times.
//!
//! Whole lines are appended through an SFTP APPEND handle and flushed; a dropped connection can
//! at worst leave a partial last line, which the next append (or [`repair`]) cuts first. A
//! failed append is cut back to where it began.

use std::io::SeekFrom;

use russh_sftp::protocol::{FileAttributes, OpenFlags};
use scopeflow_transfer::remote::{manifest_lines, not_listed};
use scopeflow_transfer::{Digest, MANIFEST, RelPath, TransferError};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::warn;

use crate::Inner;
use crate::config::Site;
use crate::fsops::{file_err, full_or, is_not_found, lstat, sftp_err};
use crate::pool::{map_parallel, with_conn};
use crate::session::Conn;

fn manifest_path(ctx: &Site) -> String {
    format!("{}/{MANIFEST}", ctx.root().trim_end_matches('/'))
}

async fn root_exists(inner: &Inner) -> Result<(), TransferError> {
    let ctx = &inner.ctx;
    let root = ctx.root();
    match with_conn!(&inner.pool, |c| lstat(c, ctx, root).await)? {
        Some(m) if m.is_dir() => Ok(()),
        _ => Err(ctx.unreachable(
            root,
            format!("the destination root does not exist on {}", ctx.server()),
        )),
    }
}

pub(crate) async fn record(
    inner: &Inner,
    entries: &[(RelPath, Digest)],
) -> Result<(), TransferError> {
    let ctx = &inner.ctx;
    let text = manifest_lines(entries).map_err(|e| ctx.invalid(MANIFEST, e.to_string()))?;
    if entries.is_empty() {
        return Ok(());
    }
    root_exists(inner).await?;
    let found = map_parallel!(&inner.pool, entries, |c, (p, _)| lstat(
        c,
        ctx,
        &ctx.remote(p)
    )
    .await)?;
    for ((path, _), meta) in entries.iter().zip(found) {
        match meta {
            Some(m) if m.is_regular() => {}
            Some(_) => {
                return Err(ctx.invalid(
                    path.as_str(),
                    "not a file: record lists files, one line each",
                ));
            }
            None => {
                return Err(ctx.invalid(
                    path.as_str(),
                    "not published: record a file only after its put succeeded",
                ));
            }
        }
    }
    let _guard = inner.manifest_lock.lock().await;
    let path = manifest_path(ctx);
    // Safe to repeat after a dropped connection: the torn part is cut, whole lines that made it
    // are listed twice, which checks just as well.
    let (path, text) = (&path, &text);
    with_conn!(&inner.pool, |c| append(c, ctx, path, text.as_bytes()).await)
}

pub(crate) async fn record_missing(
    inner: &Inner,
    entries: &[(RelPath, Digest)],
) -> Result<(), TransferError> {
    let ctx = &inner.ctx;
    let path = manifest_path(ctx);
    let text = with_conn!(&inner.pool, |c| match c.sftp.read(path.as_str()).await {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => {
            let e = sftp_err(ctx, "read", &path, e);
            if is_not_found(&e) {
                Ok(String::new())
            } else {
                Err(e)
            }
        }
    })?;
    record(inner, &not_listed(&text, entries)).await
}

pub(crate) async fn repair(inner: &Inner) -> Result<bool, TransferError> {
    let ctx = &inner.ctx;
    root_exists(inner).await?;
    let _guard = inner.manifest_lock.lock().await;
    let path = manifest_path(ctx);
    with_conn!(&inner.pool, |c| cut_torn_line(c, ctx, &path)
        .await
        .map(|(cut, _)| cut))
}

async fn append(c: &Conn, ctx: &Site, path: &str, bytes: &[u8]) -> Result<(), TransferError> {
    let (_, len) = cut_torn_line(c, ctx, path).await?;
    let parent = ctx.root();
    let needed = bytes.len() as u64;
    let flags = OpenFlags::CREATE | OpenFlags::WRITE | OpenFlags::APPEND;
    let mut file = match c.sftp.open_with_flags(path, flags).await {
        Ok(f) => f,
        Err(e) => {
            return Err(full_or(c, ctx, parent, needed, sftp_err(ctx, "open", path, e)).await);
        }
    };
    let written = match file.write_all(bytes).await {
        Ok(()) => match file.flush().await {
            Ok(()) => file.shutdown().await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        drop(file);
        let err = full_or(c, ctx, parent, needed, file_err(ctx, "append to", path, e)).await;
        // Part of our lines may have landed: cut back to where we began.
        let _ = truncate(c, path, len).await;
        return Err(err);
    }
    Ok(())
}

async fn truncate(c: &Conn, path: &str, len: u64) -> Result<(), russh_sftp::client::error::Error> {
    let mut attrs = FileAttributes::empty();
    attrs.size = Some(len);
    c.sftp.set_metadata(path, attrs).await
}

/// Cuts a partial last line; returns whether one was cut and the manifest's length after.
async fn cut_torn_line(c: &Conn, ctx: &Site, path: &str) -> Result<(bool, u64), TransferError> {
    let Some(meta) = lstat(c, ctx, path).await? else {
        return Ok((false, 0));
    };
    let len = meta.len();
    if len == 0 {
        return Ok((false, 0));
    }
    let mut file = c
        .sftp
        .open(path)
        .await
        .map_err(|e| sftp_err(ctx, "open", path, e))?;
    let io = |e| file_err(ctx, "repair", path, e);
    // Search backwards, block by block, for the end of the last whole line.
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    let mut keep = 0;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start)).await.map_err(io)?;
        file.read_exact(chunk).await.map_err(io)?;
        if end == len && chunk.last() == Some(&b'\n') {
            return Ok((false, len));
        }
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            keep = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    drop(file);
    truncate(c, path, keep)
        .await
        .map_err(|e| sftp_err(ctx, "repair", path, e))?;
    warn!(destination = %ctx.name(), manifest = path, cut = len - keep, "cut a partial last line from the manifest");
    Ok((true, keep))
}
