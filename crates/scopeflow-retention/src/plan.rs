//! The dry runs: by default the journal and size/mtime only (nothing contacted, hashed or
//! written); with `--verify`, every check `run` makes, with nothing purged or recorded.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use scopeflow_pipeline::{Pipeline, format_duration};

use crate::assess::{human, judge, local};
use crate::report::{Decision, Report};
use crate::run::{RobotRun, Verdict, one};
use crate::{RetentionError, Setup};

const INTERRUPTED: &str =
    "interrupted: a previous run was stopped while purging it; the next run completes it";

/// Files a killed run left between its purge intent and the journal update.
async fn interrupted(journal: &scopeflow_journal::Journal) -> Result<HashSet<i64>, RetentionError> {
    Ok(journal
        .retention_intents()
        .await?
        .iter()
        .map(|i| i.file_id)
        .collect())
}

/// What `run` would purge now and why every other current file is kept. Purge reasons say
/// that copies are re-verified and the file re-hashed at run time, which may still keep it.
///
/// # Errors
/// The journal cannot be read.
pub async fn plan(p: &Pipeline, now: DateTime<Utc>) -> Result<Report, RetentionError> {
    let setup = Setup::open(p).await?;
    let mut report = Report {
        checks: Some("journal"),
        ..Report::default()
    };
    let Some(journal) = &setup.journal else {
        return Ok(report);
    };
    let policy = &p.retention;
    let interrupted = interrupted(journal).await?;
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
            report.purge.push(decide("interrupted", INTERRUPTED.into()));
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

/// What `run` would do now, checked as `run` checks: copies re-verified at their
/// destinations and files re-hashed. Nothing is purged, marked or audited; the robot's lock
/// is not taken, so a plan never delays a run.
///
/// # Errors
/// The journal cannot be read, or a destination kind is missing from this build.
pub async fn plan_verified(p: &Pipeline, now: DateTime<Utc>) -> Result<Report, RetentionError> {
    let setup = Setup::open(p).await?;
    let mut report = Report {
        checks: Some("verified"),
        ..Report::default()
    };
    let Some(journal) = &setup.journal else {
        return Ok(report);
    };
    let ctx = RobotRun::new(p, journal, &setup, now, true)?;
    let interrupted = interrupted(journal).await?;
    let cap = p.retention.max_per_run.unwrap_or(usize::MAX);
    for c in journal.retention_candidates().await? {
        let f = &c.file;
        if interrupted.contains(&f.id) {
            report.purge.push(Decision {
                watch: f.watch.clone(),
                path: f.rel.clone(),
                code: "interrupted",
                reason: INTERRUPTED.into(),
            });
            continue;
        }
        match one(&ctx, &c, report.purge.len() >= cap).await? {
            Verdict::Purged(d) => report.purge.push(d),
            Verdict::Kept(k, _, _) => report.keep.push(Decision {
                watch: f.watch.clone(),
                path: f.rel.clone(),
                code: k.code,
                reason: k.reason,
            }),
        }
    }
    Ok(report)
}
