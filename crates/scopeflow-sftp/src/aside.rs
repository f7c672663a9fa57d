//! Setting a damaged copy aside: one rename on the server, of a file or a whole folder, to
//! `REL.damaged-<time>` beside it; nothing is deleted.

use scopeflow_transfer::{RelPath, TransferError, damaged_name};
use tracing::warn;

use crate::Inner;
use crate::fsops::{lstat, sftp_err};
use crate::pool::with_conn;

pub(crate) async fn set_aside(inner: &Inner, rel: &RelPath) -> Result<RelPath, TransferError> {
    let ctx = &inner.ctx;
    let aside = damaged_name(rel)?;
    let (from, to) = (ctx.remote(rel), ctx.remote(&aside));
    let (from, to) = (from.as_str(), to.as_str());
    with_conn!(&inner.pool, |c| {
        if lstat(c, ctx, to).await?.is_some() {
            return Err(ctx.invalid(aside.as_str(), "a damaged copy already has this name"));
        }
        if lstat(c, ctx, from).await?.is_none() {
            return Err(ctx.mismatch(rel, "nothing stored there to set aside".into(), false));
        }
        c.sftp
            .rename(from, to)
            .await
            .map_err(|e| sftp_err(ctx, "set aside", from, e))
    })?;
    warn!(destination = %ctx.name(), from = %rel, to = %aside, "damaged copy set aside");
    Ok(aside)
}
