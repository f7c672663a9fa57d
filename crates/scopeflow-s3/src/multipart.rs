//! Large files: a multipart upload completed only once every part is in, resumable after a
//! crash or an outage.
//!
//! S3 has no way to list the parts of an upload portably (object_store does not expose
//! ListParts, and not every store implements ListMultipartUploads), so the upload keeps its own
//! record: a small marker object at `<root>/.uploads.scopeflow-tmp-/<rel>` holding the upload
//! id, the file's sha256 and size, and every part already accepted. A later put of the same
//! file reads it and sends only the missing parts. The marker's folder name has the shape
//! `RelPath` refuses, so it can never collide with a published path.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use object_store::multipart::{MultipartStore, PartId};
use object_store::{ObjectStoreExt, PutMultipartOptions, PutPayload};
use scopeflow_transfer::{Digest, TransferError};
use tracing::{debug, info, warn};

use crate::Stats;
use crate::error::{Kind, kind};
use crate::source::read_range;
use crate::store::{Store, sha256_attributes};

/// The folder (under the destination root) holding the markers of unfinished uploads.
pub(crate) const MARKERS: &str = ".uploads.scopeflow-tmp-";

/// One unfinished upload, as its marker records it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Marker {
    pub upload_id: String,
    pub sha256: Digest,
    pub size: u64,
    pub part_size: u64,
    /// Part index (0-based) → what CompleteMultipartUpload needs for it.
    pub parts: BTreeMap<usize, String>,
}

impl Marker {
    fn to_text(&self) -> String {
        let mut t = format!(
            "scopeflow-multipart 1\nupload_id {}\nsha256 {}\nsize {}\npart_size {}\n",
            hex::encode(&self.upload_id),
            self.sha256,
            self.size,
            self.part_size
        );
        for (i, id) in &self.parts {
            t.push_str(&format!("part {i} {}\n", hex::encode(id)));
        }
        t
    }

    /// `None` for anything malformed: the upload is then started afresh.
    pub(crate) fn parse(text: &str) -> Option<Marker> {
        let mut lines = text.lines();
        if lines.next()? != "scopeflow-multipart 1" {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            let line = lines.next()?;
            line.strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::to_owned)
        };
        let upload_id = String::from_utf8(hex::decode(field("upload_id")?).ok()?).ok()?;
        let sha256 = Digest::from_hex(&field("sha256")?).ok()?;
        let size = field("size")?.parse().ok()?;
        let part_size = field("part_size")?.parse().ok()?;
        let mut parts = BTreeMap::new();
        for line in lines {
            let mut it = line.strip_prefix("part ")?.split(' ');
            let i = it.next()?.parse().ok()?;
            let id = String::from_utf8(hex::decode(it.next()?).ok()?).ok()?;
            parts.insert(i, id);
        }
        Some(Marker {
            upload_id,
            sha256,
            size,
            part_size,
            parts,
        })
    }
}

pub(crate) fn marker_rel(rel: &str) -> String {
    format!("{MARKERS}/{rel}")
}

/// Uploads `local` (of `size` bytes hashing to `sha256`) to `rel`. `Ok(false)` when the key
/// was taken before completion; nothing is then changed there.
pub(crate) async fn put(
    store: &Store,
    stats: &Stats,
    local: &Path,
    rel: &str,
    (sha256, size): (Digest, u64),
    part_size: u64,
    parallel: usize,
) -> Result<bool, TransferError> {
    let mut marker = match load(store, rel).await? {
        Some(m) if m.sha256 == sha256 && m.size == size && m.part_size == part_size => {
            info!(destination = %store.name, path = rel, parts = m.parts.len(), "resuming a multipart upload");
            m
        }
        stale => {
            if let Some(m) = stale {
                abort(store, rel, &m.upload_id).await;
            }
            start(store, rel, sha256, size, part_size).await?
        }
    };
    // Once: a resumed upload the store has forgotten (aborted, expired) starts afresh.
    for attempt in 0..2 {
        match send_parts(store, stats, local, rel, &mut marker, parallel).await {
            Ok(()) => break,
            Err(Gone) if attempt == 0 => {
                warn!(destination = %store.name, path = rel, "the store forgot the upload; starting again");
                marker = start(store, rel, sha256, size, part_size).await?;
            }
            Err(Gone) => {
                return Err(store
                    .ctx()
                    .invalid(rel, "the store keeps losing the upload"));
            }
            Err(Failed(e)) => return Err(e),
        }
    }
    if store.head(rel).await?.is_some() {
        abort(store, rel, &marker.upload_id).await;
        store.remove(&marker_rel(rel)).await?;
        return Ok(false);
    }
    let parts = marker
        .parts
        .values()
        .map(|id| PartId {
            content_id: id.clone(),
        })
        .collect();
    store
        .s3
        .complete_multipart(&store.key(rel), &marker.upload_id, parts)
        .await
        .map_err(|e| store.ctx().map("complete the upload of", rel, e))?;
    store.remove(&marker_rel(rel)).await?;
    Ok(true)
}

enum SendError {
    /// The upload id is unknown to the store.
    Gone,
    Failed(TransferError),
}
use SendError::{Failed, Gone};

async fn send_parts(
    store: &Store,
    stats: &Stats,
    local: &Path,
    rel: &str,
    marker: &mut Marker,
    parallel: usize,
) -> Result<(), SendError> {
    let count = marker.size.div_ceil(marker.part_size).max(1) as usize;
    let todo: Vec<usize> = (0..count)
        .filter(|i| !marker.parts.contains_key(i))
        .collect();
    stats.add_parts_skipped((count - todo.len()) as u64);
    let shared = Mutex::new(marker.clone());
    let key = store.key(rel);
    let (size, part_size, upload_id) = (marker.size, marker.part_size, marker.upload_id.clone());
    futures::stream::iter(todo)
        .map(|i| {
            let (key, upload_id, shared) = (&key, &upload_id, &shared);
            async move {
                let offset = i as u64 * part_size;
                let len = part_size.min(size - offset) as usize;
                let bytes = read_range(local.to_owned(), offset, len)
                    .await
                    .map_err(|e| Failed(store.ctx().local("read", local, e)))?;
                let id = match store
                    .s3
                    .put_part(key, upload_id, i, PutPayload::from(bytes))
                    .await
                {
                    Ok(id) => id,
                    Err(e) if kind(&e) == Kind::NotFound => return Err(Gone),
                    Err(e) => return Err(Failed(store.ctx().map("upload a part of", rel, e))),
                };
                stats.add_part(len as u64);
                let text = {
                    let mut m = shared.lock().unwrap_or_else(|p| p.into_inner());
                    m.parts.insert(i, id.content_id);
                    m.to_text()
                };
                // Markers written out of order may lose a part from the record; that part
                // is then only sent again, never lost.
                save(store, rel, text).await.map_err(Failed)?;
                debug!(destination = %store.name, path = rel, part = i, "part sent");
                Ok(())
            }
        })
        .buffer_unordered(parallel.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    *marker = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(())
}

async fn start(
    store: &Store,
    rel: &str,
    sha256: Digest,
    size: u64,
    part_size: u64,
) -> Result<Marker, TransferError> {
    let opts = PutMultipartOptions {
        attributes: sha256_attributes(&sha256),
        ..PutMultipartOptions::default()
    };
    let upload_id = store
        .s3
        .create_multipart_opts(&store.key(rel), opts)
        .await
        .map_err(|e| store.ctx().map("start the upload of", rel, e))?;
    let marker = Marker {
        upload_id,
        sha256,
        size,
        part_size,
        parts: BTreeMap::new(),
    };
    // Written before any part, so a crash at any later point leaves a trace to resume or clean.
    save(store, rel, marker.to_text()).await?;
    Ok(marker)
}

pub(crate) async fn load(store: &Store, rel: &str) -> Result<Option<Marker>, TransferError> {
    let m = marker_rel(rel);
    match store.s3.get(&store.key(&m)).await {
        Ok(got) => {
            let bytes = got
                .bytes()
                .await
                .map_err(|e| store.ctx().map("read", &m, e))?;
            Ok(std::str::from_utf8(&bytes).ok().and_then(Marker::parse))
        }
        Err(e) if kind(&e) == Kind::NotFound => Ok(None),
        Err(e) => Err(store.ctx().map("read", &m, e)),
    }
}

async fn save(store: &Store, rel: &str, text: String) -> Result<(), TransferError> {
    let m = marker_rel(rel);
    store
        .s3
        .put(&store.key(&m), PutPayload::from(text.into_bytes()))
        .await
        .map_err(|e| store.ctx().map("write", &m, e))?;
    Ok(())
}

/// Best effort: an upload that cannot be aborted now is aborted by the next clean-up, or by
/// the bucket's lifecycle rule.
pub(crate) async fn abort(store: &Store, rel: &str, upload_id: &str) {
    if let Err(e) = store
        .s3
        .abort_multipart(&store.key(rel), &upload_id.to_owned())
        .await
        && kind(&e) != Kind::NotFound
    {
        warn!(destination = %store.name, path = rel, error = %e, "cannot abort an unfinished upload");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trip() {
        let mut parts = BTreeMap::new();
        parts.insert(
            0,
            "<PartMetadata><ETag>\"x y\"</ETag></PartMetadata>".to_owned(),
        );
        parts.insert(3, "e".to_owned());
        let m = Marker {
            upload_id: "abc-123".into(),
            sha256: Digest([7; 32]),
            size: 10,
            part_size: 5,
            parts,
        };
        assert_eq!(Marker::parse(&m.to_text()), Some(m));
        assert_eq!(Marker::parse("garbage"), None);
    }
}
