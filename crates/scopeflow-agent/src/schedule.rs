//! The agent's loop, shared by `--once` and the long-running service: scan when something may
//! have changed, promote settled files to `stable`, and keep up to `workers` jobs running on
//! what the journal says is pending.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scopeflow_core::FileState;
use scopeflow_journal::FileRow;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::job::{self, Agent};
use crate::run::AgentError;
use crate::scan::{Filter, scan};
use crate::settle::{Settle, opens_for_reading};

const TICK: Duration = Duration::from_millis(250);
/// How long a stopping agent waits for jobs in flight; what is cut short is redone at the
/// next start (every step is idempotent).
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// What the loop keeps from one turn to the next.
pub(crate) struct Schedule {
    settle: Settle,
    jobs: JoinSet<i64>,
    in_flight: HashSet<i64>,
    /// A fresh start retries everything once, now: it usually follows an operator's fix (share
    /// mounted again, disk freed); back-off applies within a run. Ids not yet retried:
    retry_now: Option<HashSet<i64>>,
    dirty: bool,
    last_scan: Instant,
    rescan: Duration,
    unsettled: usize,
}

impl Schedule {
    pub(crate) fn new(ctx: &Agent) -> Schedule {
        Schedule {
            settle: Settle::default(),
            jobs: JoinSet::new(),
            in_flight: HashSet::new(),
            retry_now: None,
            dirty: true,
            last_scan: Instant::now(),
            rescan: ctx
                .pipeline
                .watch
                .iter()
                .map(|w| w.rescan)
                .min()
                .unwrap_or(Duration::from_secs(300)),
            unsettled: 0,
        }
    }

    /// Runs until `shutdown` resolves, or, with `once`, until every stable file has been
    /// handled and nothing is left to do now.
    pub(crate) async fn run(
        mut self,
        ctx: &Arc<Agent>,
        filters: &[Filter],
        once: bool,
        wake: &Notify,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), AgentError> {
        tokio::pin!(shutdown);
        loop {
            if self.dirty || self.unsettled > 0 || self.last_scan.elapsed() >= self.rescan {
                self.unsettled = scan_all(ctx, filters, &mut self.settle).await?;
                self.dirty = false;
                self.last_scan = Instant::now();
            }
            let runnable = self.dispatch(ctx).await?;
            if once && self.jobs.is_empty() && runnable == 0 && self.unsettled == 0 {
                return Ok(());
            }
            if self.wait(wake, shutdown.as_mut()).await {
                return Ok(());
            }
        }
    }

    /// Starts jobs on the pending files that are due, up to `workers` at once; returns how
    /// many are due (running or waiting for a worker).
    async fn dispatch(&mut self, ctx: &Arc<Agent>) -> Result<usize, AgentError> {
        let now = chrono::Utc::now();
        let pending = if self.retry_now.as_ref().is_none_or(|r| !r.is_empty()) {
            ctx.journal.pending_all().await
        } else {
            ctx.journal.pending(now).await
        }
        .map_err(|e| ctx.journal_error(&e))?;
        let retry = self.retry_now.get_or_insert_with(|| {
            pending
                .iter()
                .filter(|r| r.state != FileState::Discovered)
                .map(|r| r.id)
                .collect()
        });
        let mut runnable = 0;
        for row in pending {
            let due = is_due(&row, now) || retry.contains(&row.id);
            if row.state == FileState::Discovered || !due || self.in_flight.contains(&row.id) {
                continue;
            }
            runnable += 1;
            if self.in_flight.len() < ctx.pipeline.workers {
                self.in_flight.insert(row.id);
                retry.remove(&row.id);
                let (c, id, rel) = (ctx.clone(), row.id, row.rel.clone());
                self.jobs.spawn(async move {
                    crate::isolate::job(&rel, job::run(c, row)).await;
                    id
                });
            }
        }
        Ok(runnable)
    }

    /// Waits for a job to end, a file event or the next tick; `true` when it is time to stop
    /// (the jobs in flight then get [`GRACE`] to finish).
    async fn wait(&mut self, wake: &Notify, shutdown: Pin<&mut impl Future<Output = ()>>) -> bool {
        tokio::select! {
            () = shutdown => {
                tracing::info!("stopping");
                let jobs = &mut self.jobs;
                let _ = tokio::time::timeout(GRACE, async { while jobs.join_next().await.is_some() {} }).await;
                return true;
            }
            Some(done) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                if let Ok(id) = done { self.in_flight.remove(&id); }
                while let Some(done) = self.jobs.try_join_next() {
                    if let Ok(id) = done { self.in_flight.remove(&id); }
                }
                // A finished job may have changed a file's state or version: look again.
                self.dirty = true;
            }
            () = wake.notified() => { self.dirty = true; }
            () = tokio::time::sleep(TICK) => {}
        }
        false
    }
}

/// Whether a row's back-off (if any) is over.
fn is_due(row: &FileRow, now: chrono::DateTime<chrono::Utc>) -> bool {
    row.next_attempt_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| t <= now)
}

/// Scans every watch folder, records what is new or changed, promotes settled files; returns
/// how many seen files are still settling.
async fn scan_all(
    ctx: &Arc<Agent>,
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
                .map_err(|e| ctx.journal_error(&e))?;
            if row.state != FileState::Discovered {
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
                    .map_err(|e| ctx.journal_error(&e))?;
            } else {
                unsettled += 1;
            }
        }
    }
    Ok(unsettled)
}
