//! Setting a damaged copy aside. S3 has no rename: each object is copied to the new name, and
//! only then is the original removed, so a crash in between leaves two copies, never none;
//! running it again finishes the job under a fresh name.

use object_store::ObjectStoreExt;
use scopeflow_transfer::{RelPath, TransferError, damaged_name};
use tracing::warn;

use crate::Inner;

pub(crate) async fn set_aside(inner: &Inner, rel: &RelPath) -> Result<RelPath, TransferError> {
    let store = &inner.store;
    let aside = damaged_name(rel)?;
    // A folder first: s3s-fs answers a HEAD on a folder's name with an error.
    let moves: Vec<(String, String)> = if store.has_children(rel.as_str()).await? {
        store
            .list_under(rel.as_str())
            .await?
            .into_iter()
            .map(|(sub, _)| (format!("{rel}/{sub}"), format!("{aside}/{sub}")))
            .collect()
    } else if store.head(rel.as_str()).await?.is_some() {
        vec![(rel.to_string(), aside.to_string())]
    } else {
        Vec::new()
    };
    if moves.is_empty() {
        return Err(TransferError::Mismatch {
            dest: store.name.clone(),
            path: rel.to_string(),
            detail: "nothing stored there to set aside".into(),
            published: false,
        });
    }
    for (from, to) in &moves {
        store
            .s3
            .copy(&store.key(from), &store.key(to))
            .await
            .map_err(|e| store.ctx().map("copy aside", from, e))?;
    }
    for (from, _) in &moves {
        store.remove(from).await?;
    }
    warn!(destination = %store.name, from = %rel, to = %aside, objects = moves.len(), "damaged copy set aside");
    Ok(aside)
}
