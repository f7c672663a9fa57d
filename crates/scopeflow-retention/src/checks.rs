//! The purge-time checks that go past the journal: what the destinations say now, and what
//! the local file hashes to now.

use std::path::Path;

use scopeflow_journal::FileStatus;

use crate::RetentionError;
use crate::assess::{Keep, keep};
use crate::run::RobotRun;
use crate::verify::{CopyCheck, Finding};

pub(crate) enum CopyVerdict {
    Safe,
    Keep(Keep),
}

/// A damaged copy anywhere keeps the file, marks that copy invalid (the file goes back to
/// `processed`, so the agent sends it again) and raises an alarm; then every required
/// destination must have verified now, and `min_copies` copies in all.
pub(crate) async fn judge_copies(
    ctx: &RobotRun<'_>,
    c: &FileStatus,
    checks: &[CopyCheck],
) -> Result<CopyVerdict, RetentionError> {
    let f = &c.file;
    let mut damaged = Vec::new();
    for k in checks {
        if let Finding::Mismatch(e) = &k.outcome {
            tracing::error!(
                file = %f.rel, version = f.version, destination = %k.destination, path = %k.path,
                error = %e, "ALARM retention: a verified copy no longer matches; marked invalid"
            );
            if !ctx.dry_run {
                ctx.journal.copy_invalid(f.id, &k.destination, e).await?;
            }
            damaged.push(format!("{}: {e}", k.destination));
        }
    }
    if !damaged.is_empty() {
        let then = if ctx.dry_run {
            "`run` would mark the copy invalid for the agent to send again"
        } else {
            ctx.journal.refresh_state(f.id, &ctx.all_names()).await?;
            "copy marked invalid, the agent sends it again"
        };
        return Ok(CopyVerdict::Keep(keep(
            "checksum_mismatch",
            format!("checksum mismatch: {}; {then}", damaged.join("; ")),
        )));
    }
    for name in &ctx.p.retention.require_verified {
        let Some(k) = checks.iter().find(|k| &k.destination == name) else {
            return Ok(CopyVerdict::Keep(keep(
                "not_verified",
                format!("not verified: no verified copy at {name}"),
            )));
        };
        match &k.outcome {
            Finding::Good(_) | Finding::Mismatch(_) => {}
            Finding::Unreachable(e) => {
                return Ok(CopyVerdict::Keep(keep(
                    "unreachable",
                    format!("destination unreachable: {e}"),
                )));
            }
            Finding::Failed(e) => {
                return Ok(CopyVerdict::Keep(keep(
                    "verify_failed",
                    format!("not verified now: {name}: {e}"),
                )));
            }
        }
    }
    let good = checks.iter().filter(|k| k.good()).count();
    if let Some(min) = ctx.p.retention.min_copies
        && good < min as usize
    {
        let why: Vec<String> = checks
            .iter()
            .filter_map(|k| match &k.outcome {
                Finding::Unreachable(e) | Finding::Failed(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        return Ok(CopyVerdict::Keep(keep(
            "min_copies",
            format!(
                "min_copies: {good} cop{} verified now, {min} required{}",
                if good == 1 { "y" } else { "ies" },
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", why.join("; "))
                }
            ),
        )));
    }
    Ok(CopyVerdict::Safe)
}

/// The local file must still hash to what was ingested: a change that kept size and mtime
/// is rare but would otherwise delete the only copy of the new content.
pub(crate) async fn rehash(c: &FileStatus, path: &Path) -> Result<(), Keep> {
    let f = &c.file;
    let want = f.sha256.as_deref().unwrap_or_default();
    match scopeflow_transfer::sha256_file(path).await {
        Ok((d, n)) if d.to_hex() == want && n == f.size => Ok(()),
        Ok((d, n)) => {
            tracing::error!(
                file = %path.display(), ingested = want, now = %d,
                "ALARM retention: content changed since ingest with the same size and mtime; kept"
            );
            Err(keep(
                "modified",
                format!(
                    "modified since ingest: sha256 {d} ({n} bytes) now, {want} at ingest (same size and mtime)"
                ),
            ))
        }
        Err(e) => Err(keep(
            "failed",
            format!("cannot re-hash {}: {e}", path.display()),
        )),
    }
}
