//! Remote file-system steps over SFTP, with failures sorted into what the caller must do.

use std::io;

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::fs::Metadata;
use russh_sftp::protocol::StatusCode;

use crate::config::Site;
use crate::session::Conn;
use scopeflow_transfer::TransferError;

/// Sorts an SFTP failure: the connection (→ `Unreachable`, retried on a new one) or this path.
pub(crate) fn sftp_err(ctx: &Site, op: &'static str, path: &str, e: SftpError) -> TransferError {
    match e {
        SftpError::Status(s) => {
            let kind = match s.status_code {
                StatusCode::NoSuchFile => io::ErrorKind::NotFound,
                StatusCode::PermissionDenied => io::ErrorKind::PermissionDenied,
                StatusCode::OpUnsupported => io::ErrorKind::Unsupported,
                StatusCode::NoConnection | StatusCode::ConnectionLost => {
                    return lost(ctx, op, path, &s.error_message);
                }
                _ => io::ErrorKind::Other,
            };
            let message = format!("{}: {}", s.status_code, s.error_message);
            ctx.io(op, path, io::Error::new(kind, message))
        }
        SftpError::Limited(m) => ctx.io(op, path, io::Error::other(m)),
        other => lost(ctx, op, path, &other.to_string()),
    }
}

/// A failure from the SFTP file's reader or writer: the server's own status arrives as a plain
/// message, a broken connection as the client's error inside.
pub(crate) fn file_err(ctx: &Site, op: &'static str, path: &str, e: io::Error) -> TransferError {
    if e.kind() == io::ErrorKind::TimedOut {
        return lost(ctx, op, path, "no answer in time");
    }
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SftpError>())
    {
        Some(inner) => sftp_err(ctx, op, path, inner.clone()),
        None => ctx.io(op, path, e),
    }
}

fn lost(ctx: &Site, op: &str, path: &str, why: &str) -> TransferError {
    ctx.unreachable(
        path,
        format!(
            "connection to {} lost while trying to {op}: {why}",
            ctx.server()
        ),
    )
}

pub(crate) fn is_not_found(e: &TransferError) -> bool {
    matches!(e, TransferError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// OpenSSH's sftp-server reports a full disk as a bare "Failure": ask the server how much room
/// is left (`statvfs@openssh.com`) and call it `Full` when less than `needed` bytes (or no
/// inode) remain. Also reads the words of servers that do say it.
pub(crate) async fn full_or(
    conn: &Conn,
    ctx: &Site,
    dir: &str,
    needed: u64,
    e: TransferError,
) -> TransferError {
    let TransferError::Io { source, path, .. } = &e else {
        return e;
    };
    let text = source.to_string().to_ascii_lowercase();
    let said_full = text.contains("no space") || text.contains("quota");
    let room = match conn.sftp.fs_info(dir).await {
        Ok(Some(st)) => Some((
            st.blocks_avail.saturating_mul(st.fragment_size),
            st.inodes_free,
        )),
        _ => None,
    };
    let measured_full = room.is_some_and(|(bytes, inodes)| bytes < needed.max(1) || inodes == 0);
    if said_full || measured_full {
        let note = match room {
            Some((bytes, _)) => {
                format!("{source} ({bytes} bytes free on the server, {needed} needed)")
            }
            None => source.to_string(),
        };
        return TransferError::Full {
            dest: ctx.name().to_owned(),
            path: path.clone(),
            source: io::Error::new(io::ErrorKind::StorageFull, note),
        };
    }
    e
}

/// `None` when nothing is there; links are not followed.
pub(crate) async fn lstat(
    conn: &Conn,
    ctx: &Site,
    path: &str,
) -> Result<Option<Metadata>, TransferError> {
    match conn.sftp.symlink_metadata(path).await {
        Ok(m) => Ok(Some(m)),
        Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(None),
        Err(e) => Err(sftp_err(ctx, "look up", path, e)),
    }
}

/// Creates `dir` and its missing parents below the root (see [`create_root`] for the root).
pub(crate) async fn create_dirs(conn: &Conn, ctx: &Site, dir: &str) -> Result<(), TransferError> {
    let root = ctx.root();
    match lstat(conn, ctx, root).await? {
        Some(m) if m.is_dir() => {}
        Some(_) => {
            return Err(ctx.invalid(
                root,
                format!("the destination root on {} is not a folder", ctx.server()),
            ));
        }
        None => create_root(conn, ctx, root).await?,
    }
    let below = dir.strip_prefix(root).unwrap_or("").trim_start_matches('/');
    let mut path = root.trim_end_matches('/').to_owned();
    for part in below.split('/').filter(|p| !p.is_empty()) {
        path.push('/');
        path.push_str(part);
        create_dir(conn, ctx, &path).await?;
    }
    Ok(())
}

/// Creates the root, but only inside an existing folder: a missing parent usually means a wrong
/// URL or a volume not mounted on the server, and creating the whole path would hide that.
async fn create_root(conn: &Conn, ctx: &Site, root: &str) -> Result<(), TransferError> {
    let parent = match root.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    };
    match lstat(conn, ctx, parent).await? {
        Some(m) if m.is_dir() => create_dir(conn, ctx, root).await,
        _ => Err(ctx.unreachable(
            root,
            format!(
                "the destination root does not exist on {}, nor its parent {parent} (the root is \
                 only created inside an existing folder)",
                ctx.server()
            ),
        )),
    }
}

/// Creates one folder; an existing folder is fine (sftp-server reports EEXIST as "Failure").
pub(crate) async fn create_dir(conn: &Conn, ctx: &Site, path: &str) -> Result<(), TransferError> {
    match conn.sftp.create_dir(path).await {
        Ok(()) => Ok(()),
        Err(e) => match lstat(conn, ctx, path).await? {
            Some(m) if m.is_dir() => Ok(()),
            _ => Err(full_or(
                conn,
                ctx,
                path,
                4096,
                sftp_err(ctx, "create folder", path, e),
            )
            .await),
        },
    }
}

/// Removes a file or a whole folder of ours. Best effort: what stays is for `clean_temporaries`.
pub(crate) async fn remove_all(conn: &Conn, path: &str) -> Result<(), SftpError> {
    let meta = match conn.sftp.symlink_metadata(path).await {
        Ok(m) => m,
        Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return conn.sftp.remove_file(path).await;
    }
    // Depth first, folders removed after their entries.
    let mut stack = vec![(path.to_owned(), false)];
    while let Some((dir, listed)) = stack.pop() {
        if listed {
            conn.sftp.remove_dir(dir.as_str()).await?;
            continue;
        }
        stack.push((dir.clone(), true));
        for entry in conn.sftp.read_dir(dir.as_str()).await? {
            let name = entry.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let child = format!("{dir}/{name}");
            if entry.file_type().is_dir() {
                stack.push((child, false));
            } else {
                conn.sftp.remove_file(child).await?;
            }
        }
    }
    Ok(())
}
