//! Publishing a file or a folder at its final keys, never replacing anything.
//!
//! S3 has no rename, so nothing goes under a temporary name: a file is one PUT (or one
//! multipart upload, which appears only when completed); a folder's files go straight to
//! their final keys, its first file in sorted order last, so that "first file present" means
//! "folder complete" (which is what `put_is_atomic` checks, and what makes a restart resume).

use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use scopeflow_transfer::remote::now_rfc3339;
use scopeflow_transfer::{Digest, MANIFEST, Receipt, RelPath, TransferError, sha256_file};
use tracing::{debug, info};

use crate::source::{Source, read_small, shape, sub_path};
use crate::store::Head;
use crate::{Inner, multipart};

pub(crate) async fn put(d: &Inner, local: &Path, rel: &RelPath) -> Result<Receipt, TransferError> {
    let ctx = d.store.ctx();
    // Markers of unfinished uploads live under a name `RelPath` already refuses.
    if rel.as_str() == MANIFEST {
        return Err(ctx.invalid(
            rel.as_str(),
            "this name is reserved for the destination manifest",
        ));
    }
    let (local_owned, rel_owned) = (local.to_owned(), rel.clone());
    let (name, location) = (d.store.name.clone(), d.store.location.clone());
    let source = tokio::task::spawn_blocking(move || {
        let ctx = crate::error::Place {
            dest: &name,
            location: &location,
        };
        shape(&ctx, &local_owned, &rel_owned)
    })
    .await
    .map_err(|e| ctx.local("list", local, std::io::Error::other(e)))??;
    let files = match source {
        Source::File { size } => vec![put_file(d, local, rel.as_str(), size, false).await?],
        Source::Tree(files) => put_tree(d, local, rel, &files).await?,
    };
    info!(destination = %d.store.name, path = %rel, files = files.len(), "published");
    Ok(Receipt {
        files,
        verified_at: now_rfc3339(),
    })
}

async fn put_tree(
    d: &Inner,
    local: &Path,
    rel: &RelPath,
    files: &[(String, u64)],
) -> Result<Vec<(RelPath, Digest, u64)>, TransferError> {
    let ctx = d.store.ctx();
    // Listing first: a store over a file system (s3s-fs) fails a HEAD on a key that is one
    // of its folders, where S3 says "not found".
    let stored = d.store.list_under(rel.as_str()).await?;
    if stored.is_empty() && d.store.is_object(rel.as_str()).await? {
        return Err(ctx.conflict(rel.as_str(), "a file is stored, a folder is to be sent"));
    }
    let complete = stored.iter().any(|(sub, _)| *sub == files[0].0);
    if let Some(diff) = listing_difference(files, &stored, complete) {
        return Err(ctx.conflict(rel.as_str(), diff));
    }
    let present: std::collections::HashSet<&str> = stored.iter().map(|(s, _)| s.as_str()).collect();
    let one = |sub: &str, size: u64| {
        let rel_sub = format!("{rel}/{sub}");
        let local_sub = sub_path(local, sub);
        let is_present = present.contains(sub);
        async move {
            let got = if is_present {
                settle(d, &local_sub, &rel_sub, size, None, complete).await?
            } else {
                put_file(d, &local_sub, &rel_sub, size, true).await?
            };
            Ok::<_, TransferError>(got)
        }
    };
    // Files already there first (a changed one is a conflict before anything is sent), then
    // the missing ones, then the first file, last.
    let (first, rest) = files.split_first().expect("a tree holds at least one file");
    let (mut done, missing): (Vec<_>, Vec<_>) =
        rest.iter().partition(|(s, _)| present.contains(s.as_str()));
    done.extend(missing);
    // Indices, not references, in the stream: async_trait's `Send` bound trips over
    // closures taking references (higher-ranked lifetimes).
    let mut out: Vec<(RelPath, Digest, u64)> = futures::stream::iter(0..done.len())
        .map(|i| one(&done[i].0, done[i].1))
        .buffer_unordered(in_flight(files, d.parallel))
        .try_collect()
        .await?;
    out.push(one(&first.0, first.1).await?);
    out.sort();
    Ok(out)
}

/// Files up to this size count as small: a folder of them (an OME-Zarr's chunks) is bound by
/// the latency of each request, twice over with read-back (PUT, then GET), not by bandwidth.
const SMALL_FILE: u64 = 1 << 20;
/// Requests in flight for a folder of small files: with at most 1 MiB each held in memory,
/// 64 of them cost 64 MiB. Measured against s3s-fs in `benches/transfer_s3.sh`.
const SMALL_IN_FLIGHT: usize = 64;

/// How many files of a folder are sent (and read back) at once: `parallel` (the
/// destination's setting, which bounds memory for large files), or many more when every file
/// is small.
fn in_flight(files: &[(String, u64)], parallel: usize) -> usize {
    let largest = files.iter().map(|(_, n)| *n).max().unwrap_or(0);
    if largest <= SMALL_FILE {
        in_flight_at_most(parallel)
    } else {
        parallel
    }
}

/// The most requests [`in_flight`] ever allows for a destination's `parallel`.
pub(crate) fn in_flight_at_most(parallel: usize) -> usize {
    SMALL_IN_FLIGHT.max(parallel).max(1)
}

/// Differences that make a stored folder another folder: a file we do not have, a size that
/// differs, or (once complete) a file missing.
fn listing_difference(
    ours: &[(String, u64)],
    stored: &[(String, u64)],
    complete: bool,
) -> Option<String> {
    let mine: std::collections::HashMap<&str, u64> =
        ours.iter().map(|(s, n)| (s.as_str(), *n)).collect();
    for (sub, have) in stored {
        match mine.get(sub.as_str()) {
            None => return Some(format!("{sub} is stored, but not in the folder to send")),
            Some(size) if size != have => {
                return Some(format!("{sub}: {have} bytes stored, {size} bytes to send"));
            }
            Some(_) => {}
        }
    }
    if complete && stored.len() != ours.len() {
        return Some(format!(
            "{} files stored, {} to send",
            stored.len(),
            ours.len()
        ));
    }
    None
}

/// Sends one file to `rel` unless something is there already, then reads it back.
/// `in_folder`: a wrong read-back removes the object (the folder is not complete yet, so it
/// was never published) rather than leaving a stored copy a retry would trust.
async fn put_file(
    d: &Inner,
    local: &Path,
    rel: &str,
    size: u64,
    in_folder: bool,
) -> Result<(RelPath, Digest, u64), TransferError> {
    let ctx = d.store.ctx();
    if !in_folder {
        // Children first, for the same reason as in `put_tree`.
        if d.store.has_children(rel).await? {
            return Err(ctx.conflict(rel, "a folder is stored, a file is to be sent"));
        }
        if let Some(h) = d.store.head(rel).await? {
            return settle(d, local, rel, size, Some(h), true).await;
        }
    }
    let (sha, published) = if size <= d.part_size {
        let (bytes, sha) = read_small(local.to_owned())
            .await
            .map_err(|e| ctx.local("read", local, e))?;
        if bytes.len() as u64 != size {
            return Err(ctx.local(
                "read",
                local,
                std::io::Error::other("the file changed size while being sent"),
            ));
        }
        (sha, d.store.put_new(rel, bytes, &sha).await?)
    } else {
        let (sha, n) = sha256_file(local)
            .await
            .map_err(|e| ctx.local("read", local, e))?;
        let ok = multipart::put(
            &d.store,
            &d.stats,
            local,
            rel,
            (sha, n),
            d.part_size,
            d.parallel,
        )
        .await?;
        (sha, ok)
    };
    if !published {
        debug!(destination = %d.store.name, path = rel, "taken meanwhile; comparing");
        return settle(d, local, rel, size, None, true).await;
    }
    // Multipart bytes were counted part by part.
    d.stats
        .add_object(if size <= d.part_size { size } else { 0 });
    let path = RelPath::new(rel)?;
    if d.read_back {
        let back = d.store.read_back(rel).await?;
        if back != Some((sha, size)) {
            // Just written by us and wrong: never let a retry mistake it for a good copy.
            d.store.remove(rel).await?;
            return Err(ctx.mismatch(rel, describe(back, (sha, size)), false));
        }
    }
    Ok((path, sha, size))
}

/// `rel` already holds an object: success if it holds these bytes, else `Conflict`.
/// `published`: whether a wrong read-back means a damaged stored copy (else it is removed).
async fn settle(
    d: &Inner,
    local: &Path,
    rel: &str,
    size: u64,
    head: Option<Head>,
    published: bool,
) -> Result<(RelPath, Digest, u64), TransferError> {
    let ctx = d.store.ctx();
    let head = match head {
        Some(h) => h,
        None => d
            .store
            .head(rel)
            .await?
            .ok_or_else(|| ctx.mismatch(rel, "vanished while being compared".into(), false))?,
    };
    if head.size != size {
        return Err(ctx.conflict(
            rel,
            format!("{} bytes stored, {size} bytes to send", head.size),
        ));
    }
    let (want, _) = sha256_file(local)
        .await
        .map_err(|e| ctx.local("read", local, e))?;
    let mut back = None;
    let stored = match head.sha256 {
        Some(s) => s,
        // Written by another tool: only its bytes can tell.
        None => {
            back = d.store.read_back(rel).await?;
            back.map_or(want, |(s, _)| s)
        }
    };
    if stored != want {
        return Err(ctx.conflict(rel, format!("sha256 {stored} stored, {want} to send")));
    }
    if d.read_back && back.is_none() {
        back = d.store.read_back(rel).await?;
    }
    if let Some(got) = back
        && got != (want, size)
    {
        if !published {
            d.store.remove(rel).await?;
        }
        return Err(ctx.mismatch(rel, describe(Some(got), (want, size)), published));
    }
    d.stats.add_skipped();
    Ok((RelPath::new(rel)?, want, size))
}

fn describe(back: Option<(Digest, u64)>, sent: (Digest, u64)) -> String {
    match back {
        Some((d, n)) => format!(
            "read back sha256 {d} ({n} bytes), sent {} ({} bytes)",
            sent.0, sent.1
        ),
        None => format!(
            "missing right after upload; sent {} ({} bytes)",
            sent.0, sent.1
        ),
    }
}
