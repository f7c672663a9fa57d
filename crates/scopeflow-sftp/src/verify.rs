//! A fresh proof that stored copies are intact, for the journal and the retention robot.

use scopeflow_transfer::remote::now_rfc3339;
use scopeflow_transfer::remote::verify_request_problem;
use scopeflow_transfer::{Digest, RelPath, TransferError, Verified};

use crate::Inner;
use crate::config::summarise;
use crate::fsops::lstat;
use crate::pool::{map_parallel, with_conn};
use crate::stored::hash_stored;

/// Re-reads every expected file and lists every difference, not just the first, so an operator
/// sees the extent of the damage in one message.
pub(crate) async fn verify(
    inner: &Inner,
    rel: &RelPath,
    expected: &[(RelPath, Digest, u64)],
) -> Result<Verified, TransferError> {
    let ctx = &inner.ctx;
    if let Some((path, reason)) = verify_request_problem(rel, expected) {
        return Err(ctx.invalid(path.as_str(), reason));
    }
    let root = ctx.root();
    if with_conn!(&inner.pool, |c| lstat(c, ctx, root).await)?.is_none() {
        return Err(ctx.unreachable(
            root,
            format!("the destination root does not exist on {}", ctx.server()),
        ));
    }
    let found = map_parallel!(&inner.pool, expected, |c, (path, _, _)| {
        lstat(c, ctx, &ctx.remote(path)).await
    })?;
    let mut problems = Vec::new();
    let mut to_hash = Vec::new();
    for ((path, digest, size), meta) in expected.iter().zip(found) {
        match meta {
            None => problems.push(format!("{path}: missing")),
            Some(m) if !m.is_regular() => problems.push(format!("{path}: not a file")),
            Some(m) if m.len() != *size => {
                problems.push(format!("{path}: {} bytes stored, {size} expected", m.len()));
            }
            Some(_) => to_hash.push((path, digest, *size)),
        }
    }
    let remote: Vec<(String, u64)> = to_hash
        .iter()
        .map(|(p, _, n)| (ctx.remote(p), *n))
        .collect();
    let hashed = hash_stored(inner, &remote).await?;
    let mut bytes = 0;
    for ((path, digest, size), got) in to_hash.iter().zip(hashed) {
        match got {
            None => problems.push(format!("{path}: missing")),
            Some((d, n)) if d != **digest || n != *size => {
                problems.push(format!("{path}: sha256 {d} stored, {digest} expected"));
            }
            Some((_, n)) => bytes += n,
        }
    }
    if !problems.is_empty() {
        return Err(ctx.mismatch(rel, summarise(&problems, expected.len()), true));
    }
    Ok(Verified {
        files: expected.len(),
        bytes,
        at: now_rfc3339(),
    })
}
