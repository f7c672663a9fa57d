//! A target that is already taken: success if it holds exactly what would be sent (a retried
//! put), `Conflict` otherwise. Destinations never overwrite.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use scopeflow_transfer::remote::now_rfc3339;
use scopeflow_transfer::{Digest, Receipt, RelPath, TransferError, sha256_file};
use tracing::debug;

use crate::Inner;
use crate::fsops::{lstat, sftp_err};
use crate::pool::with_conn;
use crate::stored::hash_stored;
use scopeflow_transfer::remote::first_listing_difference;

use crate::tree::{Shape, WalkError, remote_tree};

enum Stored {
    File { size: u64 },
    Tree(crate::tree::Tree),
}

/// `sent`: the digests of what was just sent, in the source's file order, which spares hashing
/// the source again.
pub(crate) async fn resolve_taken(
    inner: &Inner,
    local: &Path,
    rel: &RelPath,
    source: &Shape,
    sent: Option<&[(Digest, u64)]>,
) -> Result<Receipt, TransferError> {
    let ctx = &inner.ctx;
    let target = ctx.remote(rel);
    let stored = with_conn!(&inner.pool, |c| match lstat(c, ctx, &target).await? {
        None => Err(ctx.io("look up", &target, ErrorKind::NotFound.into())),
        Some(m) if m.is_dir() => match remote_tree(c, &target).await {
            Ok(t) => Ok(Stored::Tree(t)),
            Err(WalkError::Remote { path, source }) => Err(sftp_err(ctx, "list", &path, source)),
            Err(WalkError::Refused { path, reason }) =>
                Err(ctx.conflict(rel, format!("{path}: {reason}"))),
            Err(WalkError::Local { path, source }) =>
                Err(ctx.io("list", path.display().to_string(), source)),
        },
        Some(m) if m.is_regular() => Ok(Stored::File { size: m.len() }),
        Some(_) => Err(ctx.conflict(rel, "neither a regular file nor a folder is stored".into())),
    })?;
    // (sub-path, local file, remote file, size) for every file, once both sides list the same.
    let pairs: Vec<(String, PathBuf, String, u64)> = match (source, &stored) {
        (Shape::File { size }, Stored::File { size: have }) => {
            if size != have {
                return Err(ctx.conflict(rel, format!("{have} bytes stored, {size} bytes to send")));
            }
            vec![(String::new(), local.to_owned(), target.clone(), *size)]
        }
        (Shape::Tree(ours), Stored::Tree(theirs)) => {
            if let Some(diff) = first_listing_difference(&ours.files, &theirs.files) {
                return Err(ctx.conflict(rel, diff));
            }
            ours.files
                .iter()
                .map(|(sub, size)| {
                    let mut src = local.to_path_buf();
                    src.extend(sub.split('/'));
                    (sub.clone(), src, format!("{target}/{sub}"), *size)
                })
                .collect()
        }
        (Shape::File { .. }, Stored::Tree(_)) => {
            return Err(ctx.conflict(rel, "a folder is stored, a file is to be sent".into()));
        }
        (Shape::Tree(_), Stored::File { .. }) => {
            return Err(ctx.conflict(rel, "a file is stored, a folder is to be sent".into()));
        }
    };
    let remote: Vec<(String, u64)> = pairs.iter().map(|(_, _, r, n)| (r.clone(), *n)).collect();
    let have = hash_stored(inner, &remote).await?;
    let mut files = Vec::with_capacity(pairs.len());
    for (i, ((sub, src, _, _), have)) in pairs.iter().zip(have).enumerate() {
        let name = if sub.is_empty() { rel.as_str() } else { sub };
        let Some(have) = have else {
            return Err(ctx.conflict(rel, format!("{name} vanished while being compared")));
        };
        let want = match sent.and_then(|s| s.get(i)) {
            Some(known) => *known,
            None => sha256_file(src)
                .await
                .map_err(|e| ctx.io("read", src.display().to_string(), e))?,
        };
        if have != want {
            return Err(ctx.conflict(
                rel,
                format!("{name}: sha256 {} stored, {} to send", have.0, want.0),
            ));
        }
        let path = if sub.is_empty() {
            rel.clone()
        } else {
            rel.join(sub)?
        };
        files.push((path, have.0, have.1));
    }
    debug!(destination = %ctx.name(), path = %rel, "already holds the same copy");
    Ok(Receipt {
        files,
        verified_at: now_rfc3339(),
    })
}
