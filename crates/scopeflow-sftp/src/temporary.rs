//! Temporaries: named after their target alone, so a later put of the same target finds and
//! resumes what an interrupted one left; removed by [`clean`] once abandoned.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use scopeflow_transfer::remote::{TEMP_MARKER, is_temporary_name};
use scopeflow_transfer::{RelPath, TransferError};
use sha2::{Digest as _, Sha256};
use tracing::info;

use crate::Inner;
use crate::fsops::{lstat, remove_all, sftp_err};
use crate::pool::with_conn;

/// Keeps `.<name>.scopeflow-tmp-<hash>` well under the usual 255-byte limit on names.
const MAX_NAME_PART: usize = 120;

/// `<parent>/.<name>.scopeflow-tmp-<first 16 hex digits of sha256(rel)>`.
pub(crate) fn temp_path(parent: &str, rel: &RelPath) -> String {
    let name = rel.file_name();
    let mut cut = MAX_NAME_PART.min(name.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = hex::encode(Sha256::digest(rel.as_str().as_bytes()));
    let parent = parent.trim_end_matches('/');
    format!("{parent}/.{}{TEMP_MARKER}{}", &name[..cut], &hash[..16])
}

/// Removes every temporary under the root not modified for `age`; returns how many.
pub(crate) async fn clean(inner: &Inner, age: Duration) -> Result<usize, TransferError> {
    let ctx = &inner.ctx;
    let root = ctx.root().to_owned();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let old_enough = |mtime: Option<u32>| {
        age.is_zero() || mtime.is_none_or(|m| now.saturating_sub(u64::from(m)) >= age.as_secs())
    };
    let root = &root;
    let old_enough = &old_enough;
    with_conn!(&inner.pool, |conn| {
        // No root yet (the first put creates it): nothing to clean. Not an error, and above
        // all not a lost connection, which would be retried with pauses.
        if lstat(conn, ctx, root).await?.is_none() {
            return Ok(0);
        }
        let mut removed = 0;
        let mut level = vec![root.clone()];
        while !level.is_empty() {
            let listings: Vec<_> = futures::stream::iter(level.drain(..))
                .map(|dir| async move {
                    let listed = conn.sftp.read_dir(dir.as_str()).await;
                    (dir, listed)
                })
                .buffer_unordered(16)
                .collect()
                .await;
            for (dir, listed) in listings {
                let entries = listed.map_err(|e| sftp_err(ctx, "list", &dir, e))?;
                for entry in entries {
                    let name = entry.file_name();
                    if name == "." || name == ".." {
                        continue;
                    }
                    let path = format!("{}/{name}", dir.trim_end_matches('/'));
                    if is_temporary_name(&name) {
                        if old_enough(entry.metadata().mtime) {
                            remove_all(conn, &path)
                                .await
                                .map_err(|e| sftp_err(ctx, "remove temporary", &path, e))?;
                            info!(destination = %ctx.name(), path = %path, "removed a leftover temporary");
                            removed += 1;
                        }
                    } else if entry.file_type().is_dir() {
                        level.push(path);
                    }
                }
            }
        }
        Ok(removed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_depend_on_the_target_only_and_are_ours() {
        let rel = RelPath::new("ome-zarr/a.ome.zarr").unwrap();
        let t = temp_path("/data/ome-zarr", &rel);
        assert_eq!(t, temp_path("/data/ome-zarr/", &rel));
        let name = t.rsplit('/').next().unwrap();
        assert!(name.starts_with(".a.ome.zarr.scopeflow-tmp-"), "{name}");
        assert!(is_temporary_name(name));
        let other = RelPath::new("ome-zarr/b.ome.zarr").unwrap();
        assert_ne!(temp_path("/data/ome-zarr", &other), t);
    }
}
