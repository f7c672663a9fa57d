//! The I/O side of a file's run: every destination receives the raw file, the OME-Zarr, its
//! thumbnail and the QC document, each published atomically, read back and hashed by the destination; the
//! raw copy must hash to what was computed while converting, end to end. Manifest lines are
//! recorded only after the files they name are published.

use std::path::Path;

use scopeflow_destinations::OutputNames;
use scopeflow_transfer::{Destination, Digest, KnownDigests, Receipt, RelPath, TransferError};

use crate::early::Early;
use crate::process::Processed;

/// Copies `processed` outputs and `raw` to `dest`; returns the raw copy's verified digest and
/// the manifest entries of everything published, for the caller to record once the journal
/// holds the transfer.
///
/// `resend`: a check found this destination's copy bad (journal copy `invalid`). What is
/// there and differs is then set aside (kept, renamed) and sent again; conversion is
/// deterministic, so the manifest's lines check again once the new copies are published.
///
/// `early`: the raw copy started while the file converted ([`crate::early`]), awaited here
/// instead of sending the raw file now.
///
/// # Errors
/// The destination's error; a raw copy whose read-back digest differs from `raw_sha256` is a
/// [`TransferError::Mismatch`]-style failure reported by the destination or by this check.
pub async fn deliver(
    dest: &dyn Destination,
    raw: &Path,
    processed: &Processed,
    names: &OutputNames,
    resend: bool,
    early: Option<Early>,
) -> Result<(String, Vec<(RelPath, Digest)>), DeliverError> {
    let mut manifest: Vec<(RelPath, Digest)> = Vec::new();
    let raw_rel = RelPath::new(&names.raw)?;
    let receipt = match early {
        Some(task) => task.await.map_err(|e| DeliverError::Panicked {
            destination: dest.name().to_string(),
            message: e.to_string(),
        })??,
        None => {
            // The converter hashed the raw file as it read it: a destination that can compare
            // its read-back with that digest does not hash the file a second time on its way.
            let known = match (Digest::from_hex(&processed.sha256), std::fs::metadata(raw)) {
                (Ok(d), Ok(m)) => Some((d, m.len())),
                _ => None,
            };
            put(dest, raw, &raw_rel, resend, Kind::Raw(known)).await?
        }
    };
    let got = receipt
        .files
        .first()
        .map(|(_, d, _)| d.to_hex())
        .unwrap_or_default();
    if got != processed.sha256 {
        return Err(DeliverError::RawMismatch {
            destination: dest.name().to_string(),
            rel: names.raw.clone(),
            expected: processed.sha256.clone(),
            got,
        });
    }
    manifest.extend(receipt.files.iter().map(|(r, d, _)| (r.clone(), *d)));
    if let Some(zarr) = &processed.zarr {
        let receipt = put(
            dest,
            zarr,
            &RelPath::new(&names.zarr)?,
            resend,
            Kind::Derived(&processed.zarr_known),
        )
        .await?;
        manifest.extend(receipt.files.iter().map(|(r, d, _)| (r.clone(), *d)));
    }
    if let Some(png) = &processed.thumbnail {
        let receipt = put(
            dest,
            png,
            &RelPath::new(&names.thumbnail())?,
            resend,
            Kind::Derived(&NONE_KNOWN),
        )
        .await?;
        manifest.extend(receipt.files.iter().map(|(r, d, _)| (r.clone(), *d)));
    }
    let receipt = put(
        dest,
        &processed.qc_json,
        &RelPath::new(&names.qc)?,
        resend,
        Kind::Derived(&NONE_KNOWN),
    )
    .await?;
    manifest.extend(receipt.files.iter().map(|(r, d, _)| (r.clone(), *d)));
    Ok((got, manifest))
}

/// What is sent, which decides how a destination may send it.
#[derive(Clone, Copy)]
enum Kind<'a> {
    /// The raw file, always copied; with its digest and size when the converter computed them.
    Raw(Option<(Digest, u64)>),
    /// An output of ours in the work folder (synced, never modified, removed once verified),
    /// which a destination on the same filesystem may publish without a second write; with
    /// the digests of the files the converter wrote.
    Derived(&'a KnownDigests),
}

static NONE_KNOWN: KnownDigests = KnownDigests::new();

async fn put(
    dest: &dyn Destination,
    local: &Path,
    rel: &RelPath,
    resend: bool,
    kind: Kind<'_>,
) -> Result<Receipt, TransferError> {
    let put_once = async || match kind {
        Kind::Derived(known) => dest.put_derived(local, rel, known).await,
        Kind::Raw(Some(known)) => dest.put_known(local, rel, known).await,
        Kind::Raw(None) => dest.put(local, rel).await,
    };
    match put_once().await {
        Err(
            TransferError::Conflict { .. }
            | TransferError::Mismatch {
                published: true, ..
            },
        ) if resend => {
            let aside = dest.set_aside(rel).await?;
            tracing::warn!(destination = dest.name(), path = %rel, set_aside = %aside, "sending a damaged copy again");
            put_once().await
        }
        other => other,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Transfer(#[from] TransferError),
    #[error("{destination}: {rel}: copy hashes to {got}, the raw file to {expected}")]
    RawMismatch {
        destination: String,
        rel: String,
        expected: String,
        got: String,
    },
    /// The back-end (or a dependency) panicked while delivering this copy; counted as a
    /// failed attempt like any other failure.
    #[error("{destination}: panicked while delivering: {message}")]
    Panicked {
        destination: String,
        message: String,
    },
}

impl DeliverError {
    /// Transient failures (unreachable, full) are retried later without counting an attempt.
    pub fn is_transient(&self) -> bool {
        match self {
            DeliverError::Transfer(e) => e.is_transient(),
            DeliverError::RawMismatch { .. } | DeliverError::Panicked { .. } => false,
        }
    }

    /// Failures only an operator can fix: the file is quarantined at once.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliverError::Transfer(e) => e.is_permanent(),
            DeliverError::RawMismatch { .. } | DeliverError::Panicked { .. } => false,
        }
    }
}
