//! An S3-compatible destination (AWS, MinIO, Ceph RGW, s3s, …) behind the same
//! [`Destination`] trait, layout and manifest as the local one.
//!
//! Invariants (checked by `scopeflow_transfer::conformance` against a real server):
//! - **Checksummed on the wire.** Every PUT and every multipart part carries
//!   `x-amz-checksum-sha256`, so the store refuses bytes damaged in transit; the whole file's
//!   sha256 is stored with the object (`x-amz-meta-sha256`), since S3's own checksum of a
//!   multipart object is not the file's.
//! - **Read back, not assumed** (`read_back`, default on): after upload, and in `verify`, the
//!   object is downloaded and hashed. With it off, size and stored checksum are checked.
//! - **Never overwrite.** Every PUT is conditional (`If-None-Match: *`) where the store supports
//!   it, after a HEAD in any case; a key holding the same bytes is success (which makes a
//!   restarted put skip work), other bytes are `Conflict`.
//! - **Complete or absent.** S3 has no rename: a file is one PUT, or a multipart upload
//!   completed only once every part is in; a folder's files go to their final keys with its
//!   first file (sorted) last, so "first file present" means "folder complete".
//! - **Resumable.** A folder put skips files already stored with the right checksum; a large
//!   file resumes its multipart upload from a marker object under `.uploads.scopeflow-tmp-/`.
//! - **The manifest always checks**: rewritten whole, conditionally on its ETag.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod aside;
mod config;
mod error;
mod manifest;
mod multipart;
mod put;
mod source;
mod store;
mod verify;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::StreamExt;
use object_store::ObjectStore;
use scopeflow_transfer::{Destination, Digest, Receipt, RelPath, TransferError, Verified};
use tracing::info;

pub use config::S3Config;
use store::Store;

/// Parts of a multipart upload, and the size above which a file goes multipart. 16 MiB keeps
/// memory at `parallel` × 16 MiB and a 1 GiB file at 64 parts (S3 allows 10,000).
pub const DEFAULT_PART_SIZE: u64 = 16 << 20;
/// S3's smallest part (except the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// Unfinished uploads older than this are abandoned by [`S3Destination::clean_temporaries`];
/// younger ones are left for a restarted put to resume.
pub const STALE_UPLOAD: Duration = Duration::from_secs(24 * 3600);

/// Counters of the work puts did and skipped, so tests and benchmarks can tell a resumed
/// transfer from a fresh one without timing anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct S3Stats {
    /// Objects uploaded (single PUT or completed multipart).
    pub objects_uploaded: u64,
    /// Objects found already stored with the same bytes, not sent again.
    pub objects_skipped: u64,
    pub parts_uploaded: u64,
    /// Parts of a resumed multipart upload that were already in.
    pub parts_skipped: u64,
    /// Bytes sent in objects and parts.
    pub bytes_uploaded: u64,
}

#[derive(Default)]
pub(crate) struct Stats([AtomicU64; 5]);

impl Stats {
    fn add(&self, i: usize, n: u64) {
        self.0[i].fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn add_object(&self, bytes: u64) {
        self.add(0, 1);
        self.add(4, bytes);
    }
    pub(crate) fn add_skipped(&self) {
        self.add(1, 1);
    }
    pub(crate) fn add_part(&self, bytes: u64) {
        self.add(2, 1);
        self.add(4, bytes);
    }
    pub(crate) fn add_parts_skipped(&self, n: u64) {
        self.add(3, n);
    }
    fn snapshot(&self) -> S3Stats {
        let v = |i: usize| self.0[i].load(Ordering::Relaxed);
        S3Stats {
            objects_uploaded: v(0),
            objects_skipped: v(1),
            parts_uploaded: v(2),
            parts_skipped: v(3),
            bytes_uploaded: v(4),
        }
    }
}

pub(crate) struct Inner {
    pub store: Store,
    pub stats: Stats,
    pub read_back: bool,
    pub parallel: usize,
    pub part_size: u64,
}

/// A destination in an S3 bucket, under a key prefix. Cheap to clone.
#[derive(Clone)]
pub struct S3Destination {
    inner: Arc<Inner>,
}

impl S3Destination {
    /// Checks the configuration and builds the client; no request is made, so a server that
    /// is down at start-up only fails (transiently) the puts made while it is down.
    pub fn new(config: S3Config) -> Result<S3Destination, TransferError> {
        Self::with_part_size(config, DEFAULT_PART_SIZE)
    }

    /// [`S3Destination::new`] with another part size (at least [`MIN_PART_SIZE`]); files
    /// larger than one part go multipart.
    pub fn with_part_size(
        config: S3Config,
        part_size: u64,
    ) -> Result<S3Destination, TransferError> {
        let s3 = config::build(&config)?;
        if part_size < MIN_PART_SIZE {
            return Err(TransferError::Invalid {
                dest: config.name.clone(),
                path: config.location(),
                reason: format!("part size {part_size} is below S3's minimum of {MIN_PART_SIZE}"),
            });
        }
        Ok(S3Destination {
            inner: Arc::new(Inner {
                store: Store::new(&config, s3),
                stats: Stats::default(),
                read_back: config.settings.read_back,
                parallel: config.parallel.max(1),
                part_size,
            }),
        })
    }

    /// What the puts of this value (and its clones) sent and skipped so far.
    pub fn stats(&self) -> S3Stats {
        self.inner.stats.snapshot()
    }

    /// [`S3Destination::clean_temporaries`] with another age (`Duration::ZERO`: all).
    pub async fn clean_temporaries_older_than(
        &self,
        age: Duration,
    ) -> Result<usize, TransferError> {
        let store = &self.inner.store;
        let dir = store.key(multipart::MARKERS);
        let cutoff = SystemTime::now() - age;
        let mut listing = store.s3.list(Some(&dir));
        let mut stale = Vec::new();
        while let Some(item) = listing.next().await {
            let meta = item.map_err(|e| store.ctx().map("list", multipart::MARKERS, e))?;
            if SystemTime::from(meta.last_modified) <= cutoff
                && let Some(rel) = store
                    .rel_of(&meta.location)
                    .and_then(|r| r.strip_prefix(multipart::MARKERS))
                    .and_then(|r| r.strip_prefix('/'))
            {
                stale.push(rel.to_owned());
            }
        }
        for rel in &stale {
            if let Some(m) = multipart::load(store, rel).await? {
                multipart::abort(store, rel, &m.upload_id).await;
            }
            store.remove(&multipart::marker_rel(rel)).await?;
            info!(destination = %store.name, path = %rel, "abandoned an unfinished upload");
        }
        Ok(stale.len())
    }
}

#[async_trait]
impl Destination for S3Destination {
    fn name(&self) -> &str {
        &self.inner.store.name
    }

    /// Aborts multipart uploads that a crash left unfinished more than [`STALE_UPLOAD`] ago
    /// (and removes their markers); returns how many. Younger ones are kept: the next put of
    /// the same file resumes them. Never touches a published object.
    async fn clean_temporaries(&self) -> Result<usize, TransferError> {
        self.clean_temporaries_older_than(STALE_UPLOAD).await
    }

    /// Cuts a partial last line from the manifest (another tool's, or damage); `true` if one
    /// was cut. Every `record` does the same first.
    async fn repair_manifest(&self) -> Result<bool, TransferError> {
        manifest::repair(&self.inner).await
    }
    async fn put(&self, local: &Path, rel: &RelPath) -> Result<Receipt, TransferError> {
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

    async fn set_aside(&self, rel: &RelPath) -> Result<RelPath, TransferError> {
        aside::set_aside(&self.inner, rel).await
    }

    /// One PUT: S3 replaces an object atomically, readers see the old or the new one.
    async fn publish_index(&self, name: &str, bytes: Vec<u8>) -> Result<(), TransferError> {
        manifest::publish_index(&self.inner, name, bytes).await
    }
}
