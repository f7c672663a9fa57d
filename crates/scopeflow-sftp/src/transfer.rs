//! Moving bytes: one file up (resuming what a dropped connection left), one file read back.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use russh_sftp::protocol::OpenFlags;
use scopeflow_transfer::remote::read_sha256sum_line;
use scopeflow_transfer::{Digest, TransferError};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::config::Site;
use crate::fsops::{file_err, full_or, lstat, sftp_err};
use crate::session::Conn;

const BLOCK: usize = 1 << 20;
/// A resumed upload starts again this far before the end of what the server holds, on a
/// boundary, in case the last writes before the drop landed torn.
const RESUME_BACK: u64 = 256 * 1024;

/// What actually went over the wire, so resumption can be seen (and tested) without timing.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) files: AtomicU64,
    pub(crate) bytes: AtomicU64,
}

/// Sends the local file `src` (`size` bytes) to the temporary `dst` and returns the sha256 and
/// size of the bytes sent, hashed on their way out.
///
/// With `resume`, what `dst` already holds is kept: a file of the full size is not sent again
/// (the read-back hash still checks it), a shorter one is completed from near its end. A wrong
/// kept part is caught by the read-back, which then removes the temporary.
pub(crate) async fn upload(
    conn: &Conn,
    ctx: &Site,
    src: &Path,
    dst: &str,
    size: u64,
    resume: bool,
    counters: &Counters,
) -> Result<(Digest, u64), TransferError> {
    let have = if resume {
        lstat(conn, ctx, dst)
            .await?
            .filter(|m| m.is_regular())
            .map(|m| m.len())
    } else {
        None
    };
    let local_err = |op, e| ctx.io(op, src.display().to_string(), e);
    if have == Some(size) {
        return scopeflow_transfer::sha256_file(src)
            .await
            .map_err(|e| local_err("read", e));
    }
    let start = match have {
        Some(n) if n < size => n.saturating_sub(RESUME_BACK) / RESUME_BACK * RESUME_BACK,
        _ => 0,
    };
    let flags = if start > 0 {
        OpenFlags::WRITE
    } else {
        OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE
    };
    let parent = dst.rsplit_once('/').map_or("/", |(p, _)| p);
    let mut out = match conn.sftp.open_with_flags(dst, flags).await {
        Ok(f) => f,
        Err(e) => {
            return Err(full_or(conn, ctx, parent, size, sftp_err(ctx, "create", dst, e)).await);
        }
    };
    let mut input = tokio::fs::File::open(src)
        .await
        .map_err(|e| local_err("open", e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BLOCK.min(size.max(1) as usize)];
    let mut total = 0u64;
    // The kept part is hashed from the local copy: the read-back will check the remote one.
    while total < start {
        let want = buf.len().min((start - total) as usize);
        let n = input
            .read(&mut buf[..want])
            .await
            .map_err(|e| local_err("read", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    if start > 0 {
        out.seek(SeekFrom::Start(total))
            .await
            .map_err(|e| file_err(ctx, "seek", dst, e))?;
    }
    let written_from = total;
    loop {
        let n = input
            .read(&mut buf)
            .await
            .map_err(|e| local_err("read", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Err(e) = out.write_all(&buf[..n]).await {
            let needed = size.saturating_sub(total);
            return Err(full_or(conn, ctx, parent, needed, file_err(ctx, "write", dst, e)).await);
        }
        total += n as u64;
        counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
    // flush: every write acknowledged, then fsync@openssh.com where the server offers it.
    let finished = match out.flush().await {
        Ok(()) => out.shutdown().await,
        Err(e) => Err(e),
    };
    if let Err(e) = finished {
        return Err(full_or(conn, ctx, parent, 1, file_err(ctx, "flush", dst, e)).await);
    }
    counters.files.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(destination = %ctx.name(), path = dst, resumed_at = written_from, "sent");
    Ok((Digest(hasher.finalize().into()), total))
}

/// Reads a remote file back and hashes it: the proof that counts.
pub(crate) async fn read_back(
    conn: &Conn,
    ctx: &Site,
    path: &str,
) -> Result<(Digest, u64), TransferError> {
    let mut file = conn
        .sftp
        .open(path)
        .await
        .map_err(|e| sftp_err(ctx, "open for reading back", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| file_err(ctx, "read back", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let _ = file.shutdown().await;
    Ok((Digest(hasher.finalize().into()), total))
}

/// Commands stay well under every server's limit on an exec request.
const COMMAND_MAX: usize = 32 * 1024;

/// Runs `sha256sum` on the server over the given absolute paths (several commands if the list
/// is long) and returns the digest of each file it could read; a missing file is left out.
pub(crate) async fn remote_sha256(
    conn: &Conn,
    ctx: &Site,
    paths: &[&str],
) -> Result<HashMap<String, Digest>, TransferError> {
    let mut out = HashMap::with_capacity(paths.len());
    let mut rest = paths;
    while !rest.is_empty() {
        let mut command = String::from("LC_ALL=C sha256sum --");
        let mut taken = 0;
        for p in rest {
            let quoted = quote(p);
            if taken > 0 && command.len() + quoted.len() + 1 > COMMAND_MAX {
                break;
            }
            command.push(' ');
            command.push_str(&quoted);
            taken += 1;
        }
        rest = &rest[taken..];
        let (status, stdout, stderr) = conn.exec(&command).await.map_err(|e| {
            ctx.unreachable(
                ctx.server(),
                format!("cannot run sha256sum on the server: {e}"),
            )
        })?;
        let stdout = String::from_utf8_lossy(&stdout);
        let mut found = 0;
        for line in stdout.lines() {
            if let Some((d, name)) = read_sha256sum_line(line) {
                out.insert(name.to_owned(), d);
                found += 1;
            }
        }
        if status != 0 && found == 0 {
            let why = String::from_utf8_lossy(&stderr);
            let missing_only = why.lines().all(|l| l.contains("No such file"));
            if !missing_only || why.trim().is_empty() {
                return Err(ctx.invalid(
                    ctx.server(),
                    format!(
                        "remote_sha256 is set but `sha256sum` failed on the server (exit {status}): {}",
                        why.trim()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// POSIX shell single quotes, the only quoting every login shell agrees on.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_for_sh() {
        assert_eq!(super::quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
