//! The sha256 of files as the server holds them: read back over SFTP, or `sha256sum` run on
//! the server when `remote_sha256` is set.

use scopeflow_transfer::{Digest, TransferError};

use crate::Inner;
use crate::fsops::is_not_found;
use crate::pool::map_parallel;
use crate::transfer::{read_back, remote_sha256};

/// Files hashed by one `sha256sum` command (also how the work is split across connections).
const REMOTE_BATCH: usize = 256;

/// For each `(absolute path, size as listed)`, the digest and size the server holds, `None` if
/// the file is missing.
pub(crate) async fn hash_stored(
    inner: &Inner,
    files: &[(String, u64)],
) -> Result<Vec<Option<(Digest, u64)>>, TransferError> {
    let ctx = &inner.ctx;
    if !ctx.cfg.remote_sha256 {
        return map_parallel!(
            &inner.pool,
            files,
            |conn, (path, _)| match read_back(conn, ctx, path).await {
                Ok(found) => Ok(Some(found)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        );
    }
    let batches: Vec<&[(String, u64)]> = files.chunks(REMOTE_BATCH).collect();
    let hashed = map_parallel!(&inner.pool, &batches, |conn, batch| {
        let paths: Vec<&str> = batch.iter().map(|(p, _)| p.as_str()).collect();
        let found = remote_sha256(conn, ctx, &paths).await?;
        Ok(batch
            .iter()
            .map(|(p, size)| found.get(p).map(|d| (*d, *size)))
            .collect::<Vec<_>>())
    })?;
    Ok(hashed.into_iter().flatten().collect())
}
