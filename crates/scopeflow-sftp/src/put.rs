//! Publishing a copy: temporary (resumed if one is there), flush, read back, then a rename
//! that never replaces anything.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use scopeflow_transfer::remote::now_rfc3339;
use scopeflow_transfer::{Digest, MANIFEST, Receipt, RelPath, TransferError};
use tracing::{info, warn};

use crate::Inner;
use crate::config::{Site, summarise};
use crate::fsops::{create_dir, create_dirs, lstat, remove_all, sftp_err};
use crate::pool::{map_parallel, with_conn};
use crate::session::Conn;
use crate::stored::hash_stored;
use crate::taken::resolve_taken;
use crate::temporary::temp_path;
use crate::transfer::upload;
use crate::tree::{Shape, Tree, WalkError, local_shape, remote_tree};

pub(crate) async fn put(
    inner: &Inner,
    local: &Path,
    rel: &RelPath,
) -> Result<Receipt, TransferError> {
    let ctx = &inner.ctx;
    if rel.as_str() == MANIFEST {
        return Err(ctx.invalid(
            rel.as_str(),
            "this name is reserved for the destination manifest",
        ));
    }
    let source = source_shape(ctx, local).await?;
    let target = ctx.remote(rel);
    let parent = ctx.remote_parent(rel);
    if with_conn!(&inner.pool, |c| lstat(c, ctx, &target).await)?.is_some() {
        return resolve_taken(inner, local, rel, &source, None).await;
    }
    with_conn!(&inner.pool, |c| create_dirs(c, ctx, &parent).await)?;
    let temp = temp_path(&parent, rel);
    let sent = match &source {
        Shape::File { size } => with_conn!(&inner.pool, |c| upload(
            c,
            ctx,
            local,
            &temp,
            *size,
            true,
            &inner.counters
        )
        .await)
        .map(|s| vec![s]),
        Shape::Tree(tree) => send_tree(inner, local, &temp, tree).await,
    };
    let sent = match sent {
        Ok(s) => s,
        Err(e) => return Err(discard(inner, &temp, e).await),
    };
    check_read_back(inner, rel, &temp, &source, &sent).await?;
    let published = match with_conn!(&inner.pool, |c| publish(c, ctx, &temp, &target).await) {
        Ok(p) => p,
        Err(e) => return Err(discard(inner, &temp, e).await),
    };
    if !published {
        remove_quietly(inner, &temp).await;
        return resolve_taken(inner, local, rel, &source, Some(&sent)).await;
    }
    let files = match &source {
        Shape::File { .. } => vec![(rel.clone(), sent[0].0, sent[0].1)],
        Shape::Tree(t) => {
            let mut files = Vec::with_capacity(t.files.len());
            for ((sub, _), (d, n)) in t.files.iter().zip(&sent) {
                files.push((rel.join(sub)?, *d, *n));
            }
            files
        }
    };
    info!(destination = %ctx.name(), path = %rel, files = files.len(), "published");
    Ok(Receipt {
        files,
        verified_at: now_rfc3339(),
    })
}

/// Reads the temporary back and compares it with what was sent; a difference removes the
/// temporary (the kept part of a resumed copy may be what is wrong) and is a `Mismatch`.
async fn check_read_back(
    inner: &Inner,
    rel: &RelPath,
    temp: &str,
    source: &Shape,
    sent: &[(Digest, u64)],
) -> Result<(), TransferError> {
    let ctx = &inner.ctx;
    let stored: Vec<(String, u64)> = match source {
        Shape::File { size } => vec![(temp.to_owned(), *size)],
        Shape::Tree(t) => t
            .files
            .iter()
            .map(|(sub, n)| (format!("{temp}/{sub}"), *n))
            .collect(),
    };
    let back = match hash_stored(inner, &stored).await {
        Ok(b) => b,
        Err(e) => return Err(discard(inner, temp, e).await),
    };
    let subs: Vec<&str> = match source {
        Shape::File { .. } => vec![rel.as_str()],
        Shape::Tree(t) => t.files.iter().map(|(sub, _)| sub.as_str()).collect(),
    };
    let mut problems = Vec::new();
    for ((sub, sent), back) in subs.iter().zip(sent).zip(&back) {
        match back {
            Some(b) if b == sent => {}
            Some(b) => problems.push(format!(
                "{sub}: read back sha256 {} ({} bytes), sent {} ({} bytes)",
                b.0, b.1, sent.0, sent.1
            )),
            None => problems.push(format!("{sub}: vanished from the temporary")),
        }
    }
    if !problems.is_empty() {
        // The kept part of a resumed copy may be what is wrong: start afresh next time.
        remove_quietly(inner, temp).await;
        return Err(ctx.mismatch(rel, summarise(&problems, subs.len()), false));
    }
    Ok(())
}

async fn source_shape(ctx: &Site, local: &Path) -> Result<Shape, TransferError> {
    let path = local.to_owned();
    let shape = tokio::task::spawn_blocking(move || local_shape(&path))
        .await
        .map_err(|e| {
            ctx.io(
                "list",
                local.display().to_string(),
                std::io::Error::other(e),
            )
        })?;
    match shape {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(ctx.invalid(local.display().to_string(), "the source does not exist")),
        Err(WalkError::Refused { path, reason }) => Err(ctx.invalid(path, reason)),
        Err(WalkError::Local { path, source }) => {
            Err(ctx.io("read", path.display().to_string(), source))
        }
        Err(WalkError::Remote { path, source }) => Err(sftp_err(ctx, "list", &path, source)),
    }
}

/// Sends a folder into its temporary, keeping what an earlier attempt left there. Returns the
/// digest and size of every file, in `tree.files` order.
async fn send_tree(
    inner: &Inner,
    local: &Path,
    temp: &str,
    tree: &Tree,
) -> Result<Vec<(Digest, u64)>, TransferError> {
    let ctx = &inner.ctx;
    let kept: Option<Tree> = with_conn!(&inner.pool, |c| match lstat(c, ctx, temp).await? {
        Some(m) if m.is_dir() => remote_tree(c, temp)
            .await
            .map(Some)
            .map_err(|e| walk_refused(ctx, e)),
        Some(_) => {
            remove_all(c, temp)
                .await
                .map_err(|e| sftp_err(ctx, "remove", temp, e))?;
            create_dir(c, ctx, temp).await.map(|()| None)
        }
        None => create_dir(c, ctx, temp).await.map(|()| None),
    })?;
    if let Some(k) = &kept {
        info!(destination = %ctx.name(), temporary = temp, kept = k.files.len(), "resuming a folder copy");
    }
    let have_dirs: HashSet<&str> = kept
        .iter()
        .flat_map(|k| k.dirs.iter().map(String::as_str))
        .collect();
    let have_files: HashMap<&str, u64> = kept
        .iter()
        .flat_map(|k| k.files.iter().map(|(s, n)| (s.as_str(), *n)))
        .collect();
    let missing: Vec<String> = tree
        .dirs
        .iter()
        .filter(|d| !have_dirs.contains(d.as_str()))
        .cloned()
        .collect();
    with_conn!(&inner.pool, |c| {
        // Parents before children: one depth at a time, the folders of a depth at once.
        let mut depth = 0;
        loop {
            let now: Vec<String> = missing
                .iter()
                .filter(|d| d.matches('/').count() == depth)
                .cloned()
                .collect();
            if now.is_empty() && !missing.iter().any(|d| d.matches('/').count() > depth) {
                return Ok(());
            }
            let mut running = futures::stream::FuturesUnordered::new();
            for d in now {
                running.push(async move { create_dir(c, ctx, &format!("{temp}/{d}")).await });
            }
            while let Some(r) = running.next().await {
                r?;
            }
            depth += 1;
        }
    })?;
    let items: Vec<(usize, &(String, u64))> = tree.files.iter().enumerate().collect();
    let started: Vec<AtomicBool> = tree.files.iter().map(|_| AtomicBool::new(false)).collect();
    let (have_files, started) = (&have_files, &started);
    map_parallel!(&inner.pool, &items, |c, (i, (sub, size))| {
        // Resume what was kept, or what a dropped connection left in an earlier try.
        let resume =
            have_files.contains_key(sub.as_str()) || started[*i].swap(true, Ordering::Relaxed);
        let mut src = local.to_path_buf();
        src.extend(sub.split('/'));
        upload(
            c,
            ctx,
            &src,
            &format!("{temp}/{sub}"),
            *size,
            resume,
            &inner.counters,
        )
        .await
    })
}

fn walk_refused(ctx: &Site, e: WalkError) -> TransferError {
    match e {
        WalkError::Refused { path, reason } => {
            ctx.invalid(path, format!("in a temporary: {reason}"))
        }
        WalkError::Local { path, source } => ctx.io("list", path.display().to_string(), source),
        WalkError::Remote { path, source } => sftp_err(ctx, "list", &path, source),
    }
}

/// Renames the temporary into place unless the target is taken; `false` if it was.
async fn publish(c: &Conn, ctx: &Site, temp: &str, target: &str) -> Result<bool, TransferError> {
    if lstat(c, ctx, target).await?.is_some() {
        return Ok(false);
    }
    // sftp-server renames a file with link()+unlink(), which never replaces; a folder never
    // replaces a non-empty folder or a file.
    match c.sftp.rename(temp, target).await {
        Ok(()) => Ok(true),
        Err(e) => {
            if lstat(c, ctx, target).await?.is_some() {
                return Ok(false);
            }
            Err(sftp_err(ctx, "rename into place", temp, e))
        }
    }
}

/// After a failure: keep the temporary when the server is out of reach (the next put resumes
/// it), remove it otherwise (a full disk gets its space back).
async fn discard(inner: &Inner, temp: &str, e: TransferError) -> TransferError {
    if !matches!(e, TransferError::Unreachable { .. }) {
        remove_quietly(inner, temp).await;
    }
    e
}

async fn remove_quietly(inner: &Inner, temp: &str) {
    let ctx = &inner.ctx;
    let lease = match inner.pool.lease().await {
        Ok(l) => l,
        Err(e) => {
            warn!(destination = %ctx.name(), temporary = temp, error = %e, "cannot remove a temporary now; clean_temporaries will");
            return;
        }
    };
    if let Err(e) = remove_all(lease.conn(), temp).await {
        warn!(destination = %ctx.name(), temporary = temp, error = %e, "cannot remove a temporary now; clean_temporaries will");
    }
}
