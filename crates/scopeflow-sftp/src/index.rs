//! Index files at the root (the RO-Crate's `ro-crate-metadata.json`): the one kind of file a
//! destination replaces, since it describes the copies rather than being one. Written under a
//! temporary name, flushed, read back and compared, then put in place by one replacing rename
//! on the server, so a reader (or a crash) sees the old index or the new one, never a torn one.

use scopeflow_transfer::{RelPath, TransferError};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::Inner;
use crate::fsops::{create_dirs, file_err, full_or, sftp_err};
use crate::pool::with_conn;
use crate::temporary::temp_path;
use crate::transfer::read_back;

pub(crate) async fn publish(inner: &Inner, name: &str, bytes: &[u8]) -> Result<(), TransferError> {
    let ctx = &inner.ctx;
    let rel = RelPath::new(name).map_err(|e| ctx.invalid(name, e.to_string()))?;
    let root = ctx.root();
    let target = ctx.remote(&rel);
    let temp = temp_path(root, &rel);
    let want: [u8; 32] = Sha256::digest(bytes).into();
    let (target, temp) = (target.as_str(), temp.as_str());
    with_conn!(&inner.pool, |c| {
        create_dirs(c, ctx, root).await?;
        let mut out = c
            .sftp
            .create(temp)
            .await
            .map_err(|e| sftp_err(ctx, "create", temp, e))?;
        let written = match out.write_all(bytes).await {
            Ok(()) => match out.flush().await {
                Ok(()) => out.shutdown().await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            let needed = bytes.len() as u64;
            return Err(full_or(c, ctx, root, needed, file_err(ctx, "write", temp, e)).await);
        }
        let (got, len) = read_back(c, ctx, temp).await?;
        if got.0 != want || len != bytes.len() as u64 {
            return Err(ctx.unreachable(
                temp,
                "the index read back differs from what was sent; it will be written again",
            ));
        }
        c.posix_rename(temp, target)
            .await
            .map_err(|(permanent, why)| {
                let why = format!("cannot replace the index: {why}");
                if permanent {
                    ctx.invalid(target, why)
                } else {
                    ctx.unreachable(target, why)
                }
            })
    })
}
