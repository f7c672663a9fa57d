//! Re-verification of copies at purge time, through the same `Destination::verify` the agent
//! used: the journal says a copy was good once; only a read-back now says it still is.

use std::collections::HashMap;
use std::sync::Arc;

use scopeflow_journal::FileStatus;
use scopeflow_transfer::{Destination, Digest, RelPath, TransferError, Verified};
use serde_json::{Value, json};

/// One copy checked now.
pub(crate) struct CopyCheck {
    pub destination: String,
    pub path: String,
    /// When the journal last recorded it verified.
    pub recorded: String,
    pub outcome: Finding,
}

pub(crate) enum Finding {
    Good(Verified),
    /// The stored copy differs from the raw file or is gone: marked invalid, alarm raised.
    Mismatch(String),
    /// Not reachable now: nothing is known, nothing recorded.
    Unreachable(String),
    /// Any other failure (bad path, local I/O): nothing recorded.
    Failed(String),
}

impl CopyCheck {
    pub fn good(&self) -> bool {
        matches!(self.outcome, Finding::Good(_))
    }

    /// The audit's evidence for this copy.
    pub fn evidence(&self, sha256: &str) -> Value {
        let mut v = json!({
            "destination": self.destination,
            "path": self.path,
            "recorded_verified_at": self.recorded,
        });
        let (k, extra) = match &self.outcome {
            Finding::Good(ok) => (
                "verified",
                json!({"verified_at": ok.at, "sha256": sha256, "bytes": ok.bytes}),
            ),
            Finding::Mismatch(e) => ("mismatch", json!({"error": e})),
            Finding::Unreachable(e) => ("unreachable", json!({"error": e})),
            Finding::Failed(e) => ("failed", json!({"error": e})),
        };
        v["result"] = json!(k);
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    }
}

/// Where the raw copy of `rel` version `version` lies at a destination: as the journal
/// recorded it, else by the agent's naming rule (journals written before `copies.path`).
pub(crate) fn copy_path(c: &FileStatus, destination: &str) -> String {
    c.copies
        .iter()
        .find(|k| k.destination == destination)
        .and_then(|k| k.path.clone())
        .unwrap_or_else(|| scopeflow_destinations::outputs(&c.file.rel, c.file.version, false).raw)
}

/// Destinations found unreachable during this run, with the error: the rest of the run does
/// not wait for them again (each try may take the back-end's whole connect timeout); the
/// files stay and the next run tries again.
pub(crate) type Down = std::sync::Mutex<HashMap<String, String>>;

/// Verifies the raw copy of `c` at each of `names` (name, recorded verified_at), one after
/// the other.
pub(crate) async fn verify_copies(
    c: &FileStatus,
    names: &[(String, String)],
    destinations: &HashMap<String, Arc<dyn Destination>>,
    down: &Down,
) -> Vec<CopyCheck> {
    let mut out = Vec::with_capacity(names.len());
    for (name, recorded) in names {
        let path = copy_path(c, name);
        let known_down = down.lock().ok().and_then(|d| d.get(name).cloned());
        let outcome = match (destinations.get(name), known_down) {
            (None, _) => Finding::Failed(format!(
                "destination {name} is not in the pipeline any more"
            )),
            (Some(_), Some(e)) => Finding::Unreachable(format!("{e} (earlier in this run)")),
            (Some(d), None) => {
                let o = check(d.as_ref(), &path, c).await;
                if let (Finding::Unreachable(e), Ok(mut d)) = (&o, down.lock()) {
                    d.insert(name.clone(), e.clone());
                }
                o
            }
        };
        out.push(CopyCheck {
            destination: name.clone(),
            path,
            recorded: recorded.clone(),
            outcome,
        });
    }
    out
}

async fn check(d: &dyn Destination, path: &str, c: &FileStatus) -> Finding {
    let sha = c.file.sha256.as_deref().unwrap_or_default();
    let expected = match (RelPath::new(path), Digest::from_hex(sha)) {
        (Ok(p), Ok(s)) => (p, s, c.file.size),
        (Err(e), _) | (_, Err(e)) => return Finding::Failed(e.to_string()),
    };
    let rel = expected.0.clone();
    match d.verify(&rel, &[expected]).await {
        Ok(v) => Finding::Good(v),
        Err(
            e @ TransferError::Mismatch {
                published: true, ..
            },
        ) => Finding::Mismatch(e.to_string()),
        Err(e @ TransferError::Unreachable { .. }) => Finding::Unreachable(e.to_string()),
        Err(e) if e.is_transient() => Finding::Unreachable(e.to_string()),
        Err(e) => Finding::Failed(e.to_string()),
    }
}
