//! Raw copies made while their file converts. A destination that can copy before it knows
//! the digest (a local folder: copy, flush, read back under a temporary name) starts as the
//! conversion starts, so the copy's disk time overlaps the conversion's CPU time instead of
//! following it: the largest part of a file's time from `stable` to `verified` when the agent
//! is not busy. The copy is still published only once it reads back as the converter's digest.

use std::collections::HashMap;
use std::path::Path;

use scopeflow_destinations::OutputNames;
use scopeflow_journal::FileRow;
use scopeflow_transfer::{Digest, Receipt, RelPath, TransferError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::job::Agent;

/// A raw copy under way to one destination, by its name.
pub(crate) type Early = JoinHandle<Result<Receipt, TransferError>>;

/// Where the converter's digest and the raw file's size go, once known.
type DigestSender = oneshot::Sender<(Digest, u64)>;

/// The copies started for one file; dropped without [`EarlyCopies::known`] (the conversion
/// failed), each copy removes its temporary and publishes nothing.
#[derive(Default)]
pub(crate) struct EarlyCopies {
    started: Vec<(String, DigestSender, Early)>,
}

impl EarlyCopies {
    /// Starts a copy to each destination that copies before the digest is known and has no
    /// copy of this file on record (a copy found bad, or one being resumed, goes the usual way).
    pub(crate) async fn start(
        ctx: &Agent,
        row: &FileRow,
        raw: &Path,
        names: &OutputNames,
    ) -> EarlyCopies {
        let mut early = EarlyCopies::default();
        let (Ok(copies), Ok(rel)) = (ctx.journal.copies(row.id).await, RelPath::new(&names.raw))
        else {
            return early;
        };
        for dest in &ctx.destinations {
            if !dest.copies_before_known() || copies.iter().any(|c| c.destination == dest.name()) {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let (d, raw, rel) = (dest.clone(), raw.to_owned(), rel.clone());
            let task = tokio::spawn(async move { d.put_known_later(&raw, &rel, rx).await });
            early.started.push((dest.name().to_string(), tx, task));
        }
        early
    }

    /// The converter's digest of the raw file: each copy is published if it reads back as
    /// that. Returns the copies under way by destination name, for delivery to await.
    pub(crate) fn known(self, sha256: &str, size: u64) -> HashMap<String, Early> {
        let Ok(digest) = Digest::from_hex(sha256) else {
            return HashMap::new();
        };
        self.started
            .into_iter()
            .map(|(name, tx, task)| {
                let _ = tx.send((digest, size));
                (name, task)
            })
            .collect()
    }
}
