//! Checking stored copies: size and stored sha256 always, the bytes themselves when
//! `read_back` is on.

use futures::{StreamExt, TryStreamExt};
use scopeflow_transfer::remote::now_rfc3339;
use scopeflow_transfer::remote::verify_request_problem;
use scopeflow_transfer::{Digest, RelPath, TransferError, Verified};

use crate::Inner;

pub(crate) async fn verify(
    d: &Inner,
    rel: &RelPath,
    expected: &[(RelPath, Digest, u64)],
) -> Result<Verified, TransferError> {
    let ctx = d.store.ctx();
    if let Some((path, reason)) = verify_request_problem(rel, expected) {
        return Err(ctx.invalid(path.as_str(), reason));
    }
    // Each file: Ok(None) if it checks, Ok(Some(problem)) if not; Err if the store failed.
    let results: Vec<Option<String>> = futures::stream::iter(0..expected.len())
        .map(|i| check_one(d, &expected[i].0, &expected[i].1, expected[i].2))
        .buffered(d.parallel)
        .try_collect()
        .await?;
    let problems: Vec<String> = results.into_iter().flatten().collect();
    if !problems.is_empty() {
        return Err(ctx.mismatch(rel.as_str(), summarise(&problems, expected.len()), true));
    }
    Ok(Verified {
        files: expected.len(),
        bytes: expected.iter().map(|(_, _, n)| n).sum(),
        at: now_rfc3339(),
    })
}

async fn check_one(
    d: &Inner,
    path: &RelPath,
    digest: &Digest,
    size: u64,
) -> Result<Option<String>, TransferError> {
    let Some(head) = d.store.head(path.as_str()).await? else {
        return Ok(Some(format!("{path}: missing")));
    };
    if head.size != size {
        return Ok(Some(format!(
            "{path}: {} bytes stored, {size} expected",
            head.size
        )));
    }
    match head.sha256 {
        Some(s) if s != *digest => {
            return Ok(Some(format!(
                "{path}: stored checksum {s}, {digest} expected"
            )));
        }
        None if !d.read_back => {
            return Ok(Some(format!(
                "{path}: no sha256 stored with the object, and read_back is off"
            )));
        }
        _ => {}
    }
    if d.read_back {
        match d.store.read_back(path.as_str()).await? {
            None => return Ok(Some(format!("{path}: missing"))),
            Some((got, n)) if got != *digest || n != size => {
                return Ok(Some(format!(
                    "{path}: sha256 {got} read back ({n} bytes), {digest} expected"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// At most a few names: the message has to fit a log line and a dashboard cell.
pub(crate) fn summarise(problems: &[String], total: usize) -> String {
    const SHOWN: usize = 5;
    let mut s = format!("{} of {total} files differ: ", problems.len());
    s.push_str(&problems[..problems.len().min(SHOWN)].join("; "));
    if problems.len() > SHOWN {
        s.push_str("; …");
    }
    s
}
