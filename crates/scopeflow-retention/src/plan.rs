//! The dry run: journal and size/mtime only; nothing contacted, hashed or written.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use scopeflow_pipeline::{Pipeline, format_duration};

use crate::assess::{human, judge, local};
use crate::report::{Decision, Report};
use crate::{RetentionError, Setup};

/// What `run` would purge now and why every other current file is kept. Purge reasons say
/// that copies are re-verified and the file re-hashed at run time, which may still keep it.
///
/// # Errors
/// The journal cannot be read.
pub async fn plan(p: &Pipeline, now: DateTime<Utc>) -> Result<Report, RetentionError> {
    let setup = Setup::open(p).await?;
    let Some(journal) = &setup.journal else {
        return Ok(Report::default());
    };
    let policy = &p.retention;
    let interrupted: HashSet<i64> = journal
        .retention_intents()
        .await?
        .iter()
        .map(|i| i.file_id)
        .collect();
    let mut report = Report::default();
    let cap = policy.max_per_run.unwrap_or(usize::MAX);
    for c in journal.retention_candidates().await? {
        let f = &c.file;
        let decide = |code, reason: String| Decision {
            watch: f.watch.clone(),
            path: f.rel.clone(),
            code,
            reason,
        };
        if interrupted.contains(&f.id) {
            report.purge.push(decide(
                "interrupted",
                "interrupted: a previous run was stopped while purging it; the next run completes it"
                    .into(),
            ));
            continue;
        }
        let el = match judge(&c, policy, now) {
            Ok(el) => el,
            Err(k) => {
                report.keep.push(decide(k.code, k.reason));
                continue;
            }
        };
        if let Err((k, _)) = local(&c, &setup.watches) {
            report.keep.push(decide(k.code, k.reason));
            continue;
        }
        if report.purge.len() >= cap {
            report.keep.push(decide(
                "max_per_run",
                format!("max_per_run: {cap} file(s) per run already planned"),
            ));
            continue;
        }
        let at: Vec<String> = el
            .verified_at
            .iter()
            .map(|(d, t)| format!("{d} ({t})"))
            .collect();
        report.purge.push(decide(
            "eligible",
            format!(
                "eligible: ingested {} ago (purge_after {}), verified at {}; `run` re-verifies \
                 the copies and re-hashes the file first",
                human(el.age),
                format_duration(policy.purge_after),
                at.join(", ")
            ),
        ));
    }
    Ok(report)
}
