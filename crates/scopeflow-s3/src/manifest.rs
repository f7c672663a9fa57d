//! `manifest-sha256.txt` at the destination root, kept so that `sha256sum -c` passes at all
//! times.
//!
//! S3 has no append: every change reads the whole manifest, cuts a torn last line, adds the
//! new lines and writes it back in one PUT, conditional on the ETag read (`If-Match`), or on
//! there being none yet (`If-None-Match`), so two writers never lose each other's lines; the
//! loser reads again and retries. A store without conditional puts gets a plain PUT. A failed
//! PUT (store full) changes nothing: the old manifest stays whole.

use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use scopeflow_transfer::remote::{manifest_lines, not_listed, whole_lines_len};
use scopeflow_transfer::{Digest, MANIFEST, RelPath, TransferError};
use tracing::warn;

use crate::Inner;
use crate::error::{Kind, kind};

const ATTEMPTS: usize = 20;

pub(crate) async fn record(d: &Inner, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
    let lines = manifest_lines(entries)?;
    if entries.is_empty() {
        return Ok(());
    }
    check_published(d, entries).await?;
    update(d, |text| Some(format!("{text}{lines}"))).await?;
    Ok(())
}

pub(crate) async fn record_missing(
    d: &Inner,
    entries: &[(RelPath, Digest)],
) -> Result<(), TransferError> {
    manifest_lines(entries)?;
    if entries.is_empty() {
        return Ok(());
    }
    check_published(d, entries).await?;
    let mut failure = None;
    update(d, |text| {
        let missing = not_listed(text, entries);
        if missing.is_empty() {
            return None;
        }
        match manifest_lines(&missing) {
            Ok(lines) => Some(format!("{text}{lines}")),
            Err(e) => {
                failure = Some(e);
                None
            }
        }
    })
    .await?;
    failure.map_or(Ok(()), Err)
}

/// Replaces the index file `name` at the root in one PUT.
pub(crate) async fn publish_index(
    d: &Inner,
    name: &str,
    bytes: Vec<u8>,
) -> Result<(), TransferError> {
    let ctx = d.store.ctx();
    let key = d.store.key(name);
    d.store
        .s3
        .put(&key, PutPayload::from(bytes))
        .await
        .map(|_| ())
        .map_err(|e| ctx.map("write", name, e))
}

/// Cuts a torn last line (written by another tool, or left by damage); `true` if one was cut.
pub(crate) async fn repair(d: &Inner) -> Result<bool, TransferError> {
    update(d, |_| None).await
}

/// The manifest must only list published files.
async fn check_published(d: &Inner, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
    let ctx = d.store.ctx();
    let found: Vec<(&RelPath, bool)> = futures::stream::iter(0..entries.len())
        .map(|i| async move {
            let p = &entries[i].0;
            Ok::<_, TransferError>((p, d.store.head(p.as_str()).await?.is_some()))
        })
        .buffered(d.parallel)
        .try_collect()
        .await?;
    if let Some((p, _)) = found.iter().find(|(_, ok)| !ok) {
        return Err(ctx.invalid(
            p.as_str(),
            "not published: record a file only after its put succeeded",
        ));
    }
    Ok(())
}

/// Read, change with `change` (given the whole lines; `None` = no change), write back
/// conditionally. Returns whether anything was written.
async fn update(
    d: &Inner,
    mut change: impl FnMut(&str) -> Option<String>,
) -> Result<bool, TransferError> {
    let ctx = d.store.ctx();
    let key = d.store.key(MANIFEST);
    // Writers in this process take turns; writers elsewhere rely on the conditional PUT.
    let _turn = d.store.manifest_lock.lock().await;
    for _ in 0..ATTEMPTS {
        let (bytes, e_tag) = match d.store.s3.get(&key).await {
            Ok(got) => {
                let e_tag = got.meta.e_tag.clone();
                let version = got.meta.version.clone();
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| ctx.map("read", MANIFEST, e))?;
                (bytes.to_vec(), Some((e_tag, version)))
            }
            Err(e) if kind(&e) == Kind::NotFound => (Vec::new(), None),
            Err(e) => return Err(ctx.map("read", MANIFEST, e)),
        };
        let whole = whole_lines_len(&bytes);
        let text = std::str::from_utf8(&bytes[..whole]).map_err(|e| TransferError::Io {
            dest: d.store.name.clone(),
            path: MANIFEST.into(),
            op: "read",
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let torn = whole != bytes.len();
        let new = match change(text) {
            Some(t) => t,
            None if torn => text.to_owned(),
            None => return Ok(false),
        };
        if torn {
            warn!(destination = %d.store.name, cut = bytes.len() - whole, "cutting a partial last line from the manifest");
        }
        let mode = match e_tag {
            Some((e_tag, version)) => PutMode::Update(UpdateVersion { e_tag, version }),
            None => PutMode::Create,
        };
        let written = new.clone();
        let payload = PutPayload::from(new.into_bytes());
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match d.store.s3.put_opts(&key, payload.clone(), opts).await {
            Ok(_) if landed(d, &written).await? => return Ok(true),
            Ok(_) => {
                warn!(destination = %d.store.name, "the manifest was overwritten by a concurrent writer; writing again");
                continue;
            }
            Err(e) if kind(&e) == Kind::Precondition => continue,
            Err(e) if kind(&e) == Kind::NotImplemented => {
                d.store
                    .s3
                    .put(&key, payload)
                    .await
                    .map_err(|e| ctx.map("write", MANIFEST, e))?;
                return Ok(true);
            }
            Err(e) => return Err(ctx.map("write", MANIFEST, e)),
        }
    }
    Err(TransferError::Io {
        dest: d.store.name.clone(),
        path: MANIFEST.into(),
        op: "update",
        source: std::io::Error::other(format!(
            "the manifest changed under us {ATTEMPTS} times in a row (other writers?)"
        )),
    })
}

/// Whether the manifest now starts with what we wrote (later writers only append). Stores
/// whose conditional PUT is not atomic (s3s-fs checks `If-Match`, then writes) can let a
/// concurrent writer replace our version; this catches it, and the caller writes again.
async fn landed(d: &Inner, written: &str) -> Result<bool, TransferError> {
    let key = d.store.key(MANIFEST);
    match d.store.s3.get(&key).await {
        Ok(got) => {
            let bytes = got
                .bytes()
                .await
                .map_err(|e| d.store.ctx().map("read back", MANIFEST, e))?;
            Ok(bytes.starts_with(written.as_bytes()))
        }
        Err(e) if kind(&e) == Kind::NotFound => Ok(false),
        Err(e) => Err(d.store.ctx().map("read back", MANIFEST, e)),
    }
}
