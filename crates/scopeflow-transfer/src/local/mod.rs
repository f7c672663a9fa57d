//! A destination that is a folder: a local disk, or a NAS share mounted by the system.

#[cfg(target_os = "linux")]
mod direct;
mod durable;
mod index;
mod manifest;
mod parallel;
mod put;
mod root;
mod temporary;
mod tree;
mod verify;

use std::io;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{Destination, Digest, KnownDigests, Receipt, RelPath, TransferError, Verified};
use root::Root;

/// A destination rooted at a folder on a local or mounted file system.
///
/// File-system work runs on tokio's blocking threads with plain `std::fs` calls: streaming,
/// hashing and fsync are blocking by nature, and one blocking task per call keeps the async
/// runtime free. A call whose future is dropped still runs to its end on that thread, so a
/// cancelled put either publishes or removes its temporary, as an uncancelled one would.
#[derive(Clone)]
pub struct LocalDestination {
    root: Arc<Root>,
}

impl LocalDestination {
    /// Touches nothing: the root is checked at every call (and created if its parent exists),
    /// so a share mounted after start-up just works.
    pub fn new(name: &str, root: &Path) -> Self {
        LocalDestination {
            root: Arc::new(Root::new(name, root)),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root.path
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, TransferError>
    where
        T: Send + 'static,
        F: FnOnce(&Root) -> Result<T, TransferError> + Send + 'static,
    {
        let root = Arc::clone(&self.root);
        let root_for_error = Arc::clone(&self.root);
        tokio::task::spawn_blocking(move || work(&root))
            .await
            .unwrap_or_else(|join| {
                Err(TransferError::Io {
                    dest: root_for_error.name.clone(),
                    path: root_for_error.path.display().to_string(),
                    op: "finish a blocking task on",
                    source: io::Error::other(join),
                })
            })
    }
}

#[async_trait]
impl Destination for LocalDestination {
    fn name(&self) -> &str {
        &self.root.name
    }

    async fn put(&self, local: &Path, rel: &RelPath) -> Result<Receipt, TransferError> {
        let (local, rel) = (local.to_owned(), rel.clone());
        self.blocking(move |root| put::put(root, &local, &rel, put::Mode::Copy))
            .await
    }

    /// Same filesystem: each file is hard-linked under the temporary name instead of copied
    /// (ext4 and NTFS have hard links; reflinks would need a filesystem most acquisition PCs
    /// lack). Another filesystem, or one without links: copied as by `put`.
    /// Files in `known` are neither hashed on their way nor copied through our memory: their
    /// read-back is compared with what the caller wrote.
    async fn put_derived(
        &self,
        local: &Path,
        rel: &RelPath,
        known: &KnownDigests,
    ) -> Result<Receipt, TransferError> {
        let (local, rel, known) = (local.to_owned(), rel.clone(), known.clone());
        self.blocking(move |root| put::put_linked(root, &local, &rel, &known))
            .await
    }

    /// The raw copy is written without hashing it again: the read-back, from the disk, must
    /// match `expected` before the copy is published.
    async fn put_known(
        &self,
        local: &Path,
        rel: &RelPath,
        expected: (Digest, u64),
    ) -> Result<Receipt, TransferError> {
        let (local, rel) = (local.to_owned(), rel.clone());
        self.blocking(move |root| {
            put::put(root, &local, &rel, put::Mode::Known(expected.0, expected.1))
        })
        .await
    }

    fn copies_before_known(&self) -> bool {
        true
    }

    /// Copied, flushed and read back under the temporary name while the digest is computed;
    /// published once it matches. A temporary left by a crash meanwhile is removed at start.
    async fn put_known_later(
        &self,
        local: &Path,
        rel: &RelPath,
        expected: tokio::sync::oneshot::Receiver<(Digest, u64)>,
    ) -> Result<Receipt, TransferError> {
        let (l, r) = (local.to_owned(), rel.clone());
        let staged = self.blocking(move |root| put::stage(root, &l, &r)).await?;
        let Ok(known) = expected.await else {
            // Dropping the staged copy removes its temporary.
            let _ = tokio::task::spawn_blocking(move || drop(staged)).await;
            return Err(crate::destination::no_digest(self.name(), rel));
        };
        let (l, r) = (local.to_owned(), rel.clone());
        self.blocking(move |root| put::finish(root, &l, &r, staged, known))
            .await
    }

    async fn verify(
        &self,
        rel: &RelPath,
        expected: &[(RelPath, Digest, u64)],
    ) -> Result<Verified, TransferError> {
        let (rel, expected) = (rel.clone(), expected.to_vec());
        self.blocking(move |root| verify::verify(root, &rel, &expected))
            .await
    }

    async fn record(&self, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
        let entries = entries.to_vec();
        self.blocking(move |root| manifest::record(root, &entries))
            .await
    }

    async fn publish_index(&self, name: &str, bytes: Vec<u8>) -> Result<(), TransferError> {
        let name = name.to_owned();
        self.blocking(move |root| index::publish(root, &name, &bytes))
            .await
    }

    async fn record_missing(&self, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
        let entries = entries.to_vec();
        self.blocking(move |root| {
            let missing = manifest::missing(root, &entries)?;
            manifest::record(root, &missing)
        })
        .await
    }

    /// Removes leftover temporaries (`.<name>.scopeflow-tmp-<unique>`, files or folders) that a
    /// crash left anywhere under the root, and returns how many.
    ///
    /// This is the only deletion this crate makes, and it only touches its own temporaries:
    /// published names can never take that shape. Run it at start-up, before any `put`, since
    /// it would also remove the temporary of a put in progress (that put then fails without
    /// publishing, and is retried). It walks the whole root, which takes a while on a large share.
    async fn clean_temporaries(&self) -> Result<usize, TransferError> {
        self.blocking(temporary::clean).await
    }

    /// Cuts a partial last line a crash left in `manifest-sha256.txt`, so `sha256sum -c` passes
    /// again; `true` if one was cut. `record` does the same before appending; call this at
    /// start-up so the manifest is checkable before the first record.
    async fn repair_manifest(&self) -> Result<bool, TransferError> {
        self.blocking(manifest::repair).await
    }

    async fn set_aside(&self, rel: &RelPath) -> Result<RelPath, TransferError> {
        let (rel, aside) = (rel.clone(), crate::damaged_name(rel)?);
        self.blocking(move |root| {
            root.ensure(false)?;
            let (from, to) = (rel.under(&root.path), aside.under(&root.path));
            if root.exists(&to)? {
                return Err(root.invalid(aside.as_str(), "a damaged copy already has this name"));
            }
            std::fs::rename(&from, &to).map_err(|e| root.err("set aside", &from, e))?;
            if let Some(dir) = to.parent() {
                durable::sync_dir(dir).map_err(|e| root.err("flush folder", dir, e))?;
            }
            tracing::warn!(destination = %root.name, from = %rel, to = %aside, "damaged copy set aside");
            Ok(aside)
        })
        .await
    }
}
