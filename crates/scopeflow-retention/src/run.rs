//! `retention run`: finish what a killed run left, empty the trash of what is due, then
//! decide each current file again, with copies re-verified and the file re-hashed right
//! before it is deleted or moved.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use scopeflow_journal::{FileStatus, Journal};
use scopeflow_pipeline::{Pipeline, RetentionMode};
use scopeflow_transfer::Destination;
use serde_json::Value;

use crate::assess::{Eligible, Keep, judge, keep, local};
use crate::audit::Audit;
use crate::checks::{CopyVerdict, judge_copies, rehash};
use crate::purge::{crash_point, trash_target};
use crate::report::{Decision, Report};
use crate::verify::{CopyCheck, verify_copies};
use crate::{RetentionError, Setup};

/// Everything one run shares.
pub(crate) struct RobotRun<'a> {
    pub p: &'a Pipeline,
    pub journal: &'a Journal,
    pub destinations: HashMap<String, Arc<dyn Destination>>,
    pub watches: &'a HashMap<String, PathBuf>,
    pub audit: Audit,
    pub now: DateTime<Utc>,
    pub work_root: PathBuf,
    pub down: crate::verify::Down,
    /// `plan --verify`: every check of a run, but nothing purged, recorded or audited.
    pub dry_run: bool,
}

impl<'a> RobotRun<'a> {
    pub fn new(
        p: &'a Pipeline,
        journal: &'a Journal,
        setup: &'a Setup,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<RobotRun<'a>, RetentionError> {
        let destinations = scopeflow_destinations::open(p)
            .map_err(|e| RetentionError::Config(e.to_string()))?
            .into_iter()
            .map(|d| (d.name().to_string(), d))
            .collect();
        Ok(RobotRun {
            p,
            journal,
            destinations,
            watches: &setup.watches,
            audit: Audit::new(
                &setup.state_dir,
                now.to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
            now,
            work_root: setup.state_dir.join("work"),
            down: crate::verify::Down::default(),
            dry_run,
        })
    }

    /// Every destination of the pipeline: the set a file's state is computed from.
    pub fn all_names(&self) -> Vec<String> {
        self.p.destinations.iter().map(|d| d.name.clone()).collect()
    }
}

pub(crate) enum Verdict {
    Purged(Decision),
    Kept(Keep, Option<Duration>, Vec<Value>),
}

/// Purges what is safe to purge now (at most `max_per_run`), keeps the rest, audits every
/// decision (a file kept again for the same reason as at its last audit is not re-recorded).
///
/// # Errors
/// The journal, the lock or the audit file cannot be used, or a destination kind is missing
/// from this build; per-file problems are `keep` decisions instead.
pub async fn run(p: &Pipeline, now: DateTime<Utc>) -> Result<Report, RetentionError> {
    let setup = Setup::open(p).await?;
    let Some(journal) = &setup.journal else {
        return Ok(Report::default());
    };
    let _lock = lock(&setup.state_dir)?;
    let ctx = RobotRun::new(p, journal, &setup, now, false)?;
    let mut report = Report::default();
    crate::recover::recover(&ctx, &mut report).await?;
    crate::trash::expire(&ctx, &mut report).await?;
    let last = journal.retention_last_codes().await?;
    let cap = p.retention.max_per_run.unwrap_or(usize::MAX);
    let mut records = Vec::new();
    for c in journal.retention_candidates().await? {
        match one(&ctx, &c, report.purge.len() >= cap).await? {
            Verdict::Purged(d) => report.purge.push(d),
            Verdict::Kept(k, age, evidence) => {
                let repeat = last
                    .get(&c.file.id)
                    .is_some_and(|(d, code)| d == "kept" && code == k.code);
                if !repeat {
                    records.push(
                        ctx.audit
                            .record(&c.file, age, "kept", k.code, &k.reason, evidence),
                    );
                }
                report.keep.push(Decision {
                    watch: c.file.watch.clone(),
                    path: c.file.rel.clone(),
                    code: k.code,
                    reason: k.reason,
                });
            }
        }
    }
    ctx.audit.append(&records)?;
    journal.retention_audit(&records).await?;
    crate::trash::clean_work(&ctx).await;
    Ok(report)
}

pub(crate) async fn one(
    ctx: &RobotRun<'_>,
    c: &FileStatus,
    capped: bool,
) -> Result<Verdict, RetentionError> {
    let f = &c.file;
    let el = match judge(c, &ctx.p.retention, ctx.now) {
        Ok(el) => el,
        Err(k) => return Ok(Verdict::Kept(k, None, Vec::new())),
    };
    let age = Some(el.age);
    let path = match local(c, ctx.watches) {
        Ok(path) => path,
        Err((k, changed)) => {
            return Ok(Verdict::Kept(
                modified(ctx, c, k, changed).await?,
                age,
                Vec::new(),
            ));
        }
    };
    if capped {
        let cap = ctx.p.retention.max_per_run.unwrap_or(usize::MAX);
        return Ok(Verdict::Kept(
            keep(
                "max_per_run",
                format!("max_per_run: {cap} file(s) already purged in this run"),
            ),
            age,
            Vec::new(),
        ));
    }
    let checks = verify_copies(c, &el.verified_at, &ctx.destinations, &ctx.down).await;
    let sha = f.sha256.clone().unwrap_or_default();
    let evidence: Vec<Value> = checks.iter().map(|k| k.evidence(&sha)).collect();
    let verdict = judge_copies(ctx, c, &checks).await?;
    if let CopyVerdict::Keep(k) = verdict {
        return Ok(Verdict::Kept(k, age, evidence));
    }
    if let Err(k) = rehash(c, &path).await {
        return Ok(Verdict::Kept(k, age, evidence));
    }
    if let Err((k, changed)) = local(c, ctx.watches) {
        return Ok(Verdict::Kept(
            modified(ctx, c, k, changed).await?,
            age,
            evidence,
        ));
    }
    if ctx.dry_run {
        return Ok(Verdict::Purged(would_purge(c, &el, &checks)));
    }
    purge(ctx, c, &path, &el, &checks, evidence).await
}

/// `plan --verify`: every check passed; what `run` would do now.
fn would_purge(c: &FileStatus, el: &Eligible, checks: &[CopyCheck]) -> Decision {
    let names: Vec<&str> = checks
        .iter()
        .filter(|k| k.good())
        .map(|k| k.destination.as_str())
        .collect();
    Decision {
        watch: c.file.watch.clone(),
        path: c.file.rel.clone(),
        code: "eligible",
        reason: format!(
            "eligible: ingested {} ago; re-verified now at {}; sha256 unchanged; `run` would purge it",
            crate::assess::human(el.age),
            names.join(", ")
        ),
    }
}

/// Deletes the file or moves it to the trash (the journal's intent first, so a crash in
/// between is finished by the next run), then audits the purge.
async fn purge(
    ctx: &RobotRun<'_>,
    c: &FileStatus,
    path: &Path,
    el: &Eligible,
    checks: &[CopyCheck],
    evidence: Vec<Value>,
) -> Result<Verdict, RetentionError> {
    let (f, age) = (&c.file, Some(el.age));
    let trash = match ctx.p.retention.mode {
        RetentionMode::Delete => None,
        RetentionMode::Trash => ctx
            .p
            .retention
            .trash_path
            .as_deref()
            .map(|root| trash_target(root, &f.rel, f.version)),
    };
    let source = path.to_string_lossy().into_owned();
    let target = trash.as_ref().map(|t| t.to_string_lossy().into_owned());
    let mode = if trash.is_some() { "trash" } else { "delete" };
    ctx.journal
        .retention_intend(f.id, mode, &source, target.as_deref())
        .await?;
    crash_point("after-intent");
    let done = match &trash {
        None => crate::purge::delete(path),
        Some(t) => crate::purge::move_to_trash(path, t),
    };
    if let Err(e) = done
        && crate::assess::stat(path).is_some()
    {
        ctx.journal.retention_abandon(f.id).await?;
        let what = target
            .as_deref()
            .map_or_else(|| "delete it".to_string(), |t| format!("move it to {t}"));
        tracing::error!(file = %path.display(), error = %e, "retention: cannot {what}");
        return Ok(Verdict::Kept(
            keep("failed", format!("purge failed: cannot {what}: {e}")),
            age,
            evidence,
        ));
    }
    crash_point("after-purge");
    let names: Vec<&str> = checks
        .iter()
        .filter(|k| k.good())
        .map(|k| k.destination.as_str())
        .collect();
    let (decision, reason) = match &target {
        None => (
            "purged",
            format!(
                "purged: deleted; ingested {} ago; re-verified now at {}; sha256 unchanged",
                crate::assess::human(el.age),
                names.join(", ")
            ),
        ),
        Some(t) => (
            "trashed",
            format!(
                "purged: moved to {t}; ingested {} ago; re-verified now at {}; sha256 unchanged",
                crate::assess::human(el.age),
                names.join(", ")
            ),
        ),
    };
    let rec = ctx
        .audit
        .record(f, age, decision, decision, &reason, evidence);
    let at = ctx.audit.at.clone();
    // The file first (at least once: a crash before the journal commit is recovered, and
    // audited again, by the next run), then the journal.
    ctx.audit.append(std::slice::from_ref(&rec))?;
    ctx.journal
        .retention_purged(f.id, target.as_deref().map(|t| (t, at.as_str())), &rec)
        .await?;
    crate::trash::remove_work(ctx, f.id).await;
    tracing::info!(file = %path.display(), decision, "retention: purged");
    Ok(Verdict::Purged(Decision {
        watch: f.watch.clone(),
        path: f.rel.clone(),
        code: decision,
        reason,
    }))
}

/// A file found changed since ingest: the journal is told (a new version, which the agent
/// ingests like any file), and the reason says which version it became.
async fn modified(
    ctx: &RobotRun<'_>,
    c: &FileStatus,
    mut k: Keep,
    changed: Option<(u64, i64)>,
) -> Result<Keep, RetentionError> {
    if let Some((size, mtime)) = changed
        && !ctx.dry_run
    {
        let row = ctx
            .journal
            .observe(&c.file.watch, &c.file.rel, size, mtime)
            .await?;
        k.reason
            .push_str(&format!("; recorded as version {}", row.version));
        tracing::warn!(file = %c.file.rel, version = row.version, "retention: modified since ingest, kept");
    }
    Ok(k)
}

/// One run at a time per journal: the timer's and an operator's would race for the same files.
fn lock(state_dir: &std::path::Path) -> Result<std::fs::File, RetentionError> {
    let path = state_dir.join("retention.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| RetentionError::Io {
            path: path.clone(),
            op: "open the lock file",
            source,
        })?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(RetentionError::Busy { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(RetentionError::Io {
            path,
            op: "lock",
            source,
        }),
    }
}
