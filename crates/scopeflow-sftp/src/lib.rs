//! The SFTP destination: a copy at a remote site (a mesocentre), with the same layout,
//! manifest and guarantees as the local one (`scopeflow_transfer`'s invariants), over pure-Rust
//! SSH (russh), so it runs on Windows acquisition PCs too.
//!
//! - **Trust**: the server's host key must be in the configured `known_hosts` file; an unknown,
//!   changed or revoked key is refused (`Invalid`, naming the host and the file), never learned.
//! - **All or nothing**: each copy is written under `.NAME.scopeflow-tmp-<hash of the path>`
//!   beside its target, fsynced (`fsync@openssh.com`), read back and hashed (or hashed by
//!   `sha256sum` on the server with `remote_sha256`), then renamed into place; sftp-server's
//!   rename never replaces a file, and the target is checked to be free first.
//! - **Resumable**: the temporary's name depends only on the target, so after a dropped
//!   connection or a restart the next put finds it: files of the right size are kept (the
//!   read-back still checks them), a partial file is completed. A dropped connection is
//!   reopened and the step retried a few times before `Unreachable` is returned.
//! - **Secrets**: the password never appears in a log line, an error or `Debug`.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod aside;
mod config;
mod fsops;
mod index;
mod known_hosts;
mod manifest;
mod pool;
mod put;
mod session;
mod stored;
mod taken;
mod temporary;
mod transfer;
mod tree;
mod verify;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use scopeflow_transfer::{Destination, Digest, Receipt, RelPath, TransferError, Verified};

pub use config::SftpConfig;

use config::Site;
use pool::Pool;
use transfer::Counters;

/// Leftover temporaries younger than this are kept by [`SftpDestination::clean_temporaries`]:
/// they are what lets a put resume after an agent restart instead of starting over.
pub const KEEP_RESUMABLE: Duration = Duration::from_secs(2 * 24 * 3600);

/// A destination on an SFTP server. Cheap to clone; clones share their connections.
#[derive(Clone)]
pub struct SftpDestination {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) ctx: Arc<Site>,
    pub(crate) pool: Pool,
    pub(crate) counters: Counters,
    /// One put per target at a time in this process: they would share a temporary.
    target_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Serialises this process's manifest appends and repairs.
    pub(crate) manifest_lock: tokio::sync::Mutex<()>,
}

/// Files and bytes that went over the wire since the destination was made (files kept from
/// an earlier attempt are not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub files: u64,
    pub bytes: u64,
}

impl SftpDestination {
    /// Connects lazily: nothing happens until the first call, and a server that cannot be
    /// reached then is tried again at each call.
    pub fn new(config: SftpConfig) -> SftpDestination {
        let ctx = Arc::new(Site::new(config));
        SftpDestination {
            inner: Arc::new(Inner {
                pool: Pool::new(Arc::clone(&ctx)),
                ctx,
                counters: Counters::default(),
                target_locks: Mutex::new(HashMap::new()),
                manifest_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// [`Self::clean_temporaries`] with another age limit (`Duration::ZERO` removes them all;
    /// a put in progress then fails without publishing, and is retried).
    pub async fn clean_temporaries_older_than(
        &self,
        age: Duration,
    ) -> Result<usize, TransferError> {
        temporary::clean(&self.inner, age).await
    }

    pub fn sent(&self) -> Sent {
        Sent {
            files: self.inner.counters.files.load(Ordering::Relaxed),
            bytes: self.inner.counters.bytes.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn target_lock(&self, target: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.target_locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        Arc::clone(locks.entry(target.to_owned()).or_default())
    }
}

#[async_trait]
impl Destination for SftpDestination {
    fn name(&self) -> &str {
        self.inner.ctx.name()
    }

    /// Removes temporaries (`.NAME.scopeflow-tmp-…`) under the root untouched for
    /// [`KEEP_RESUMABLE`], and returns how many. Younger ones are kept so the puts that made
    /// them resume; a put whose kept part turns out wrong removes its temporary itself.
    async fn clean_temporaries(&self) -> Result<usize, TransferError> {
        temporary::clean(&self.inner, KEEP_RESUMABLE).await
    }

    /// Cuts a partial last line a crash left in `manifest-sha256.txt`; `true` if one was cut.
    async fn repair_manifest(&self) -> Result<bool, TransferError> {
        manifest::repair(&self.inner).await
    }

    async fn put(&self, local: &Path, rel: &RelPath) -> Result<Receipt, TransferError> {
        let lock = self.inner.target_lock(rel.as_str());
        let _held = lock.lock().await;
        put::put(&self.inner, local, rel).await
    }

    async fn verify(
        &self,
        rel: &RelPath,
        expected: &[(RelPath, Digest, u64)],
    ) -> Result<Verified, TransferError> {
        verify::verify(&self.inner, rel, expected).await
    }

    async fn record(&self, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
        manifest::record(&self.inner, entries).await
    }

    async fn record_missing(&self, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
        manifest::record_missing(&self.inner, entries).await
    }

    async fn publish_index(&self, name: &str, bytes: Vec<u8>) -> Result<(), TransferError> {
        index::publish(&self.inner, name, &bytes).await
    }

    async fn set_aside(&self, rel: &RelPath) -> Result<RelPath, TransferError> {
        let lock = self.inner.target_lock(rel.as_str());
        let _held = lock.lock().await;
        aside::set_aside(&self.inner, rel).await
    }
}
