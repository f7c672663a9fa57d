//! The agent's loop, shared by `--once` and the long-running service: scan when something may
//! have changed, promote settled files to `stable`, and keep up to `workers` jobs running on
//! what the journal says is pending.

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scopeflow_journal::Journal;
use scopeflow_pipeline::Pipeline;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::job::{self, Ctx};
use crate::scan::{Filter, scan};
use crate::settle::{Settle, opens_for_reading};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The pipeline cannot run here (destination kind not available, bad glob).
    #[error("{0}")]
    Config(String),
    /// The journal cannot be opened or written: nothing can be recorded, so nothing runs.
    #[error("journal {}: {error}", path.display())]
    Journal { path: PathBuf, error: String },
}

/// How the files stood when the agent stopped (current versions only).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub verified: usize,
    pub failed: usize,
    pub quarantined: usize,
    pub pending: usize,
}

impl Outcome {
    pub fn all_verified(&self) -> bool {
        self.failed == 0 && self.quarantined == 0 && self.pending == 0
    }
}

const TICK: Duration = Duration::from_millis(250);
/// How long a stopping agent waits for jobs in flight; what is cut short is redone at the
/// next start (every step is idempotent).
const GRACE: Duration = Duration::from_secs(3);

/// Runs the pipeline until `shutdown` resolves, or, with `once`, until every stable file has
/// been handled and nothing is left to do now.
///
/// # Errors
/// The pipeline cannot run (see [`AgentError`]); per-file failures are in the journal.
pub async fn run(
    pipeline: Pipeline,
    once: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<Outcome, AgentError> {
    let journal = Journal::open(&pipeline.state)
        .await
        .map_err(|e| AgentError::Journal {
            path: pipeline.state.clone(),
            error: e.to_string(),
        })?;
    let work_root = pipeline
        .state
        .parent()
        .map_or_else(|| PathBuf::from("work"), |p| p.join("work"));
    crate::process::clean_work(&work_root);
    let destinations = scopeflow_destinations::build(&pipeline)
        .await
        .map_err(|e| AgentError::Config(e.0))?;
    let reporter = match &pipeline.server {
        Some(server) => Some(Arc::new(
            crate::report::Reporter::new(journal.clone(), server.clone(), pipeline.name.clone())
                .map_err(AgentError::Config)?,
        )),
        None => None,
    };
    let reporting = reporter.as_ref().filter(|_| !once).map(|r| {
        let r = r.clone();
        tokio::spawn(async move { r.run().await })
    });
    let filters = pipeline
        .watch
        .iter()
        .map(|w| Filter::new(&w.include, &w.exclude).map_err(|e| AgentError::Config(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let watch_keys: Vec<String> = pipeline
        .watch
        .iter()
        .map(|w| w.path.to_string_lossy().into_owned())
        .collect();
    let wake = Arc::new(Notify::new());
    let _watchers = if once {
        None
    } else {
        let entries: Vec<_> = pipeline
            .watch
            .iter()
            .map(|w| (w.path.clone(), w.poll, w.poll_interval))
            .collect();
        match crate::watch::start(&entries, wake.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "file events unavailable; relying on periodic rescans");
                None
            }
        }
    };
    let ctx = Arc::new(Ctx {
        pipeline,
        journal,
        destinations,
        work_root,
        watch_keys,
    });
    let mut settle = Settle::default();
    let mut jobs: JoinSet<i64> = JoinSet::new();
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut dirty = true;
    let mut last_scan = Instant::now();
    let rescan = ctx
        .pipeline
        .watch
        .iter()
        .map(|w| w.rescan)
        .min()
        .unwrap_or(Duration::from_secs(300));
    let mut unsettled = 0usize;
    // A fresh start retries everything once, now: it usually follows an operator's fix (share
    // mounted again, disk freed); back-off applies within a run. Ids not yet retried:
    let mut retry_now: Option<HashSet<i64>> = None;
    tokio::pin!(shutdown);
    loop {
        if dirty || unsettled > 0 || last_scan.elapsed() >= rescan {
            unsettled = scan_all(&ctx, &filters, &mut settle).await?;
            dirty = false;
            last_scan = Instant::now();
        }
        let now = chrono::Utc::now();
        // The journal compares RFC 3339 text: the horizon stays within four-digit years.
        let horizon: chrono::DateTime<chrono::Utc> = "9999-12-31T23:59:59Z".parse().unwrap_or(now);
        let pending = ctx
            .journal
            .pending(if retry_now.as_ref().is_none_or(|r| !r.is_empty()) {
                horizon
            } else {
                now
            })
            .await
            .map_err(|e| AgentError::Journal {
                path: ctx.pipeline.state.clone(),
                error: e.to_string(),
            })?;
        let retry = retry_now.get_or_insert_with(|| {
            pending
                .iter()
                .filter(|r| r.state != "discovered")
                .map(|r| r.id)
                .collect()
        });
        let mut runnable = 0;
        for row in pending {
            let due = row
                .next_attempt_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_none_or(|t| t <= now)
                || retry.contains(&row.id);
            if row.state == "discovered" || !due || in_flight.contains(&row.id) {
                continue;
            }
            runnable += 1;
            if in_flight.len() < ctx.pipeline.workers {
                in_flight.insert(row.id);
                retry.remove(&row.id);
                let (c, id) = (ctx.clone(), row.id);
                jobs.spawn(async move {
                    job::run(c, row).await;
                    id
                });
            }
        }
        if once && jobs.is_empty() && runnable == 0 && unsettled == 0 {
            break;
        }
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("stopping");
                let _ = tokio::time::timeout(GRACE, async { while jobs.join_next().await.is_some() {} }).await;
                break;
            }
            Some(done) = jobs.join_next(), if !jobs.is_empty() => {
                if let Ok(id) = done { in_flight.remove(&id); }
                while let Some(done) = jobs.try_join_next() {
                    if let Ok(id) = done { in_flight.remove(&id); }
                }
                // A finished job may have changed a file's state or version: look again.
                dirty = true;
            }
            () = wake.notified() => { dirty = true; }
            () = tokio::time::sleep(TICK) => {}
        }
    }
    if let Some(task) = reporting {
        task.abort();
    }
    if let Some(r) = &reporter {
        // One last send, so `--once` runs (and a stopping service) leave little waiting; what
        // does not go now goes at the next start.
        match tokio::time::timeout(GRACE, r.flush(false)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    "events not sent to the central server yet; they wait in the journal"
                )
            }
        }
    }
    outcome(&ctx).await
}

/// Scans every watch folder, records what is new or changed, promotes settled files; returns
/// how many seen files are still settling.
async fn scan_all(
    ctx: &Arc<Ctx>,
    filters: &[Filter],
    settle: &mut Settle,
) -> Result<usize, AgentError> {
    let mut unsettled = 0;
    let now = Instant::now();
    for (i, w) in ctx.pipeline.watch.iter().enumerate() {
        let root = w.path.clone();
        let seen = match tokio::task::block_in_place(|| scan(&root, &filters[i])) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(folder = %root.display(), error = %e, "cannot scan watch folder");
                continue;
            }
        };
        for f in seen {
            if settle.is_settled(i, &f.rel, f.size, f.mtime_ns) {
                continue;
            }
            let row = ctx
                .journal
                .observe(&ctx.watch_keys[i], &f.rel, f.size, f.mtime_ns)
                .await
                .map_err(|e| AgentError::Journal {
                    path: ctx.pipeline.state.clone(),
                    error: e.to_string(),
                })?;
            if row.state != "discovered" {
                settle.settled(i, &f.rel, f.size, f.mtime_ns);
                continue;
            }
            if settle.observe(i, &f.rel, f.size, f.mtime_ns, w.settle, now)
                && opens_for_reading(&f.path)
            {
                settle.settled(i, &f.rel, f.size, f.mtime_ns);
                ctx.journal
                    .mark_stable(row.id)
                    .await
                    .map_err(|e| AgentError::Journal {
                        path: ctx.pipeline.state.clone(),
                        error: e.to_string(),
                    })?;
            } else {
                unsettled += 1;
            }
        }
    }
    Ok(unsettled)
}

async fn outcome(ctx: &Ctx) -> Result<Outcome, AgentError> {
    let rows = ctx
        .journal
        .status()
        .await
        .map_err(|e| AgentError::Journal {
            path: ctx.pipeline.state.clone(),
            error: e.to_string(),
        })?;
    // Only the newest version of each file counts: an old version is history.
    let mut latest: std::collections::HashMap<(String, String), (i64, String)> =
        std::collections::HashMap::new();
    for r in rows {
        let f = &r.file;
        let key = (f.watch.clone(), f.rel.clone());
        if latest.get(&key).is_none_or(|(v, _)| f.version > *v) {
            latest.insert(key, (f.version, f.state.clone()));
        }
    }
    let mut o = Outcome::default();
    for (_, state) in latest.values() {
        match state.as_str() {
            "verified" | "purged" => o.verified += 1,
            "quarantined" => o.quarantined += 1,
            "failed" => o.failed += 1,
            _ => o.pending += 1,
        }
    }
    Ok(o)
}
