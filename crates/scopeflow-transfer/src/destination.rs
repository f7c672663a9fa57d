use std::path::Path;

use async_trait::async_trait;

use crate::{Digest, RelPath, TransferError};

/// The checksum list at each destination root, in `sha256sum` format, so that
/// `sha256sum -c manifest-sha256.txt` checks the whole destination without scopeflow.
/// `put` refuses this name at the root.
pub const MANIFEST: &str = "manifest-sha256.txt";

/// Digests a caller computed while writing files: '/'-separated path → (sha256, size).
pub type KnownDigests = std::collections::BTreeMap<String, (Digest, u64)>;

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

/// A place that keeps copies: a local folder or NAS share, an SFTP server, an S3 bucket.
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

    /// [`Destination::put`] for a derived output (an OME-Zarr, a QC document) that the caller
    /// made, has flushed to stable storage, and will never modify again, only delete once the
    /// copy is recorded. A back-end that shares a filesystem with `local` may then publish it
    /// without writing the bytes a second time (the local folder links each file under its
    /// temporary name); the copy is still read back from storage, not from memory, and checked
    /// against the source's digests (or the `known` ones) before it is published. Never use it
    /// for a raw file: a raw copy must stay independent of the original.
    ///
    /// `known`: digests the caller computed as it wrote some of these files (the converter
    /// hashes each chunk it writes), by '/'-separated path under `local` (`""` for a single
    /// file). A back-end may compare its read-back with these instead of hashing those files
    /// again; files not listed are hashed as usual.
    async fn put_derived(
        &self,
        local: &Path,
        rel: &RelPath,
        known: &KnownDigests,
    ) -> Result<Receipt, TransferError> {
        let _ = known;
        self.put(local, rel).await
    }

    /// [`Destination::put`] for a raw file whose sha256 and size the caller already computed
    /// from the bytes it read (the agent hashes the raw file while converting it). A back-end
    /// may then skip hashing the file a second time on its way out, and compare what it reads
    /// back with `expected` instead: a copy that differs from the bytes that were converted is
    /// never published. The default sends it as `put` does (the caller compares afterwards).
    async fn put_known(
        &self,
        local: &Path,
        rel: &RelPath,
        expected: (Digest, u64),
    ) -> Result<Receipt, TransferError> {
        let _ = expected;
        self.put(local, rel).await
    }

    /// Whether [`Destination::put_known_later`] does its copying before the digest is known.
    /// The agent then starts it as the conversion starts, so the copy's flush and read-back
    /// overlap the conversion; for the others it keeps sending the raw file afterwards.
    fn copies_before_known(&self) -> bool {
        false
    }

    /// [`Destination::put_known`] started before the digest exists: `expected` gives it once
    /// the converter has hashed the file. A back-end may copy, flush and read back meanwhile,
    /// but publishes only a copy whose read-back matches `expected`; if `expected` never comes
    /// (the conversion failed), nothing is published. The default waits, then calls
    /// `put_known`.
    async fn put_known_later(
        &self,
        local: &Path,
        rel: &RelPath,
        expected: tokio::sync::oneshot::Receiver<(Digest, u64)>,
    ) -> Result<Receipt, TransferError> {
        match expected.await {
            Ok(known) => self.put_known(local, rel, known).await,
            Err(_) => Err(no_digest(self.name(), rel)),
        }
    }

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

    /// Replaces the index file `name` at the root (`ro-crate-metadata.json`) with `bytes`, all
    /// at once: readers see the old or the new one. The only file a destination replaces: it
    /// describes the copies, is rebuilt from the journal at any time, and is never listed in
    /// [`MANIFEST`]. Back-ends that cannot replace a file atomically say so (`Invalid`).
    async fn publish_index(&self, name: &str, bytes: Vec<u8>) -> Result<(), TransferError> {
        let _ = bytes;
        Err(TransferError::Invalid {
            dest: self.name().to_string(),
            path: name.to_string(),
            reason: "this destination cannot replace an index file yet".into(),
        })
    }

    /// Start-up tidying, part one: removes the temporaries an interrupted run of this crate
    /// left under the root (files, folders, unfinished uploads), and returns how many. Only
    /// scopeflow's own temporaries are touched, never a published name. Back-ends that resume
    /// interrupted copies keep the young ones. Run it before any `put`: a temporary it removes
    /// may belong to a put in progress (that put then fails without publishing, and is retried).
    async fn clean_temporaries(&self) -> Result<usize, TransferError>;

    /// Start-up tidying, part two: cuts a partial last line a crash left in [`MANIFEST`], so
    /// `sha256sum -c` passes again; `true` if one was cut. Every `record` does the same first;
    /// this makes the manifest checkable before the first record.
    async fn repair_manifest(&self) -> Result<bool, TransferError>;

    /// Both tidying steps, best effort: what cannot be done now (the destination is down) is
    /// logged and done at the next start, and every `record` repairs the manifest first anyway.
    async fn tidy(&self) {
        if let Err(e) = self.clean_temporaries().await {
            tracing::warn!(destination = %self.name(), error = %e, "cannot clean temporaries now");
        }
        if let Err(e) = self.repair_manifest().await {
            tracing::warn!(destination = %self.name(), error = %e, "cannot check the manifest now");
        }
    }

    /// Moves a stored copy that failed verification out of the way, so that `put` can send it
    /// again: it is renamed to [`damaged_name`] beside itself, never deleted (an operator may
    /// want to look at it, and a destination never deletes). Returns the new name.
    ///
    /// The manifest line of `rel` stays: the copy sent again has the same bytes, so the line
    /// checks again once it is published. `Unreachable` and `Io` errors are transient.
    async fn set_aside(&self, rel: &RelPath) -> Result<RelPath, TransferError> {
        Err(TransferError::Invalid {
            dest: self.name().to_string(),
            path: rel.to_string(),
            reason: "this destination cannot set a damaged copy aside; an operator must move it \
                     away before it can be sent again"
                .into(),
        })
    }
}

/// What [`Destination::put_known_later`] returns when the digest never came.
pub fn no_digest(dest: &str, rel: &RelPath) -> TransferError {
    TransferError::Invalid {
        dest: dest.to_string(),
        path: rel.to_string(),
        reason: "no digest to check the copy against (the conversion did not finish); \
                 nothing published"
            .to_string(),
    }
}

/// `REL.damaged-<UTC time>`: where [`Destination::set_aside`] moves a damaged copy. Sorted
/// beside the copy it replaces, and a valid [`RelPath`], so it can be listed and inspected.
pub fn damaged_name(rel: &RelPath) -> Result<RelPath, TransferError> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    RelPath::new(&format!("{rel}.damaged-{stamp}"))
}
