use std::path::Path;

use async_trait::async_trait;

use crate::{Digest, RelPath, TransferError};

/// The checksum list at each destination root, in `sha256sum` format, so that
/// `sha256sum -c manifest-sha256.txt` checks the whole destination without scopeflow.
/// `put` refuses this name at the root.
pub const MANIFEST: &str = "manifest-sha256.txt";

/// What a put wrote: every file with its sha256 and size as read back from the destination,
/// so the journal can mark a copy `verified` from this alone.
///
/// Paths are relative to the destination root (a folder put lists `rel/…` for each file),
/// sorted, so `files` can go straight to [`Destination::record`] and [`Destination::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub files: Vec<(RelPath, Digest, u64)>,
    /// RFC 3339 UTC, when the read-back finished.
    pub verified_at: String,
}

/// The outcome of a successful [`Destination::verify`]: how much was re-read, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub files: usize,
    pub bytes: u64,
    /// RFC 3339 UTC.
    pub at: String,
}

/// A place that keeps copies: a NAS folder today, SFTP and S3 later.
///
/// Destinations never delete (only the retention robot deletes, and only local raw files), and
/// never overwrite: a copy once published stays as it was. Every back-end runs
/// [`crate::conformance`].
#[async_trait]
pub trait Destination: Send + Sync {
    fn name(&self) -> &str;

    /// Copies a local file, or a folder tree (an OME-Zarr), to `rel`, all or nothing.
    ///
    /// The copy is written under a temporary name beside the target, flushed to stable storage,
    /// read back and hashed, and only then published under `rel` in one step, so an observer
    /// sees either nothing or the whole copy, and a copy that reads back wrong is never
    /// published (`Mismatch { published: false }`: send again). The receipt's digests are
    /// those read back from the destination, never those of the source.
    ///
    /// Idempotent: if `rel` already holds exactly the same files with the same digests, this
    /// succeeds without rewriting. If it holds anything else, it fails with
    /// [`TransferError::Conflict`] and leaves it untouched.
    async fn put(&self, local: &Path, rel: &RelPath) -> Result<Receipt, TransferError>;

    /// Reads `rel` back from storage and checks every file in `expected` (a receipt's list, all
    /// within `rel`): present, same size, same sha256. Any difference is a
    /// `Mismatch { published: true }`. An empty `expected` is `Invalid`: checking nothing must
    /// never let the retention robot purge.
    async fn verify(
        &self,
        rel: &RelPath,
        expected: &[(RelPath, Digest, u64)],
    ) -> Result<Verified, TransferError>;

    /// Appends one `sha256sum` line per entry to [`MANIFEST`] at the root.
    ///
    /// Call it only after `put` succeeded for these files: the manifest must only ever list
    /// published files, so `sha256sum -c` passes at all times. Appending twice is harmless
    /// (a duplicate line checks just as well), so a retried step may record again.
    async fn record(&self, entries: &[(RelPath, Digest)]) -> Result<(), TransferError>;

    /// `record` for a step retried after a crash, where the first `record` may or may not
    /// have happened: appends only the entries the manifest does not list yet, so the
    /// manifest keeps one line per file. Back-ends that cannot check fall back to `record`.
    async fn record_missing(&self, entries: &[(RelPath, Digest)]) -> Result<(), TransferError> {
        self.record(entries).await
    }
}
