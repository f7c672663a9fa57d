//! The agent's loop, shared by `--once` and the long-running service: scan when something may
//! have changed, promote settled files to `stable`, and keep up to 4 × `workers` jobs running on
//! what the journal says is pending (`workers` of them converting at once).
//!
//! With thousands of files (a plate reader's), nothing here may cost O(files) per finished
//! job: scans are spaced by at least [`TICK`] (a second after a job ends), and the pending
//! rows are fetched into a queue that is refilled only when a scan changed something or the
//! queue ran dry, not after every job.

use std::collections::{HashSet, VecDeque};
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
use crate::watch::Changes;

const TICK: Duration = Duration::from_millis(250);
/// A finished job may have seen its file change (a new version to settle): the next scan
/// comes within this, soon enough for `--once` and cheap at hundreds of jobs per second.
const AFTER_JOBS: Duration = Duration::from_secs(1);
/// How long a stopping agent waits for jobs in flight; what is cut short is redone at the
/// next start (every step is idempotent).
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// What the loop keeps from one turn to the next.
pub(crate) struct Schedule {
    settle: Settle,
    jobs: JoinSet<i64>,
    in_flight: HashSet<i64>,
    /// Pending rows due now, oldest first, not yet started.
    queue: VecDeque<FileRow>,
    /// The queue must be fetched again (a scan changed the journal, or it is the first turn).
    refill: bool,
    last_fill: Instant,
    /// A fresh start retries everything once, now: it usually follows an operator's fix (share
    /// mounted again, disk freed); back-off applies within a run. Ids not yet retried:
    retry_now: Option<HashSet<i64>>,
    dirty: bool,
    /// Jobs ended since the last scan.
    jobs_ended: bool,
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
            queue: VecDeque::new(),
            refill: true,
            last_fill: Instant::now(),
            retry_now: None,
            dirty: true,
            jobs_ended: false,
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
        changes: &Changes,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), AgentError> {
        tokio::pin!(shutdown);
        let mut first = true;
        loop {
            let since = self.last_scan.elapsed();
            // A file held open by its writer stays due without settling: only a due moment
            // passed since the last scan calls for one.
            let due = self.settle.next_due();
            let scan = first
                || ((self.dirty || self.unsettled > 0) && since >= TICK)
                || due.is_some_and(|d| d > self.last_scan && d <= Instant::now())
                || (self.jobs_ended && since >= AFTER_JOBS)
                || since >= self.rescan
                || (once && self.jobs_ended && self.jobs.is_empty());
            if scan {
                let (unsettled, changed) =
                    scan_all(ctx, filters, &mut self.settle, changes).await?;
                self.unsettled = unsettled;
                self.refill |= changed;
                self.dirty = false;
                self.jobs_ended = false;
                self.last_scan = Instant::now();
                first = false;
            }
            let runnable = self.dispatch(ctx).await?;
            if once
                && self.jobs.is_empty()
                && runnable == 0
                && self.unsettled == 0
                && !self.jobs_ended
            {
                return Ok(());
            }
            if self.wait(changes.wake(), shutdown.as_mut()).await {
                return Ok(());
            }
        }
    }

    /// Starts jobs on the pending files that are due, up to [`Agent::files_in_flight`] at
    /// once; returns how many are due (running or waiting for a worker).
    async fn dispatch(&mut self, ctx: &Arc<Agent>) -> Result<usize, AgentError> {
        let dry =
            self.queue.is_empty() && (self.jobs.is_empty() || self.last_fill.elapsed() >= TICK);
        if self.refill || dry {
            self.fill(ctx).await?;
        }
        while self.in_flight.len() < ctx.files_in_flight() {
            let Some(row) = self.queue.pop_front() else {
                break;
            };
            if !self.in_flight.insert(row.id) {
                continue;
            }
            if let Some(retry) = &mut self.retry_now {
                retry.remove(&row.id);
            }
            let (c, id) = (ctx.clone(), row.id);
            self.jobs.spawn(async move {
                // Queued a while ago: the journal may have moved on since (a new version,
                // another process); work from the row as it is now.
                if let Ok(row) = c.journal.get(id).await
                    && is_workable(row.state)
                {
                    let rel = row.rel.clone();
                    crate::isolate::job(&rel, job::run(c, row)).await;
                }
                id
            });
        }
        Ok(self.queue.len() + self.in_flight.len())
    }

    /// Fetches the pending rows that are due (and, after a fresh start, every pending row
    /// once) into the queue.
    async fn fill(&mut self, ctx: &Arc<Agent>) -> Result<(), AgentError> {
        self.refill = false;
        self.last_fill = Instant::now();
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
        self.queue.clear();
        for row in pending {
            let due = is_due(&row, now) || retry.contains(&row.id);
            if row.state == FileState::Discovered || !due || self.in_flight.contains(&row.id) {
                continue;
            }
            self.queue.push_back(row);
        }
        Ok(())
    }

    /// Waits for a job to end, a file event, the next tick or the moment a file has settled;
    /// `true` when it is time to stop (the jobs in flight then get [`GRACE`] to finish).
    async fn wait(&mut self, wake: &Notify, shutdown: Pin<&mut impl Future<Output = ()>>) -> bool {
        let now = Instant::now();
        let tick = match self.settle.next_due() {
            Some(d) if d > now => (d - now).min(TICK),
            _ => TICK,
        };
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
                // A finished job may have changed a file's version: look again soon.
                self.jobs_ended = true;
            }
            () = wake.notified() => { self.dirty = true; }
            () = tokio::time::sleep(tick) => {}
        }
        false
    }
}

/// States a job has something to do in (`discovered` must settle first).
fn is_workable(state: FileState) -> bool {
    matches!(
        state,
        FileState::Stable | FileState::Processed | FileState::Transferred | FileState::Failed
    )
}

/// Whether a row's back-off (if any) is over.
fn is_due(row: &FileRow, now: chrono::DateTime<chrono::Utc>) -> bool {
    row.next_attempt_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|t| t <= now)
}

/// Scans every watch folder, records what is new or changed (one journal transaction per
/// folder, not one per file), promotes settled files (one more); returns how many seen files
/// are still settling, and whether any became stable.
async fn scan_all(
    ctx: &Arc<Agent>,
    filters: &[Filter],
    settle: &mut Settle,
    changes: &Changes,
) -> Result<(usize, bool), AgentError> {
    let (mut unsettled, mut changed) = (0, false);
    // Before listing: an event that arrives during the listing belongs to the next scan.
    let events = changes.drain();
    let now = Instant::now();
    settle.begin_scan();
    for (i, w) in ctx.pipeline.watch.iter().enumerate() {
        let root = w.path.clone();
        let seen = match tokio::task::block_in_place(|| scan(&root, &filters[i])) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(folder = %root.display(), error = %e, "cannot scan watch folder");
                continue;
            }
        };
        // Settling files seen at this size and mtime before: the journal already knows.
        let (mut settling, mut fresh) = (Vec::new(), Vec::new());
        for f in seen {
            if settle.is_settled(i, &f.rel, f.size, f.mtime_ns) {
                continue;
            }
            match settle.known(i, &f.rel, f.size, f.mtime_ns) {
                Some(id) => settling.push((id, f)),
                None => fresh.push(f),
            }
        }
        if !fresh.is_empty() {
            let list: Vec<_> = fresh
                .iter()
                .map(|f| (f.rel.clone(), f.size, f.mtime_ns))
                .collect();
            let rows = ctx
                .journal
                .observe_many(&ctx.watch_keys[i], &list)
                .await
                .map_err(|e| ctx.journal_error(&e))?;
            for (f, row) in fresh.into_iter().zip(rows) {
                if row.state == FileState::Discovered {
                    settling.push((row.id, f));
                } else {
                    settle.settled(i, &f.rel, f.size, f.mtime_ns);
                }
            }
        }
        let mut stable = Vec::new();
        for (id, f) in settling {
            let event = events.get(&f.path).copied();
            if settle.observe(i, &f.rel, f.size, f.mtime_ns, id, w.settle, now, event)
                && opens_for_reading(&f.path)
            {
                settle.settled(i, &f.rel, f.size, f.mtime_ns);
                stable.push(id);
            } else {
                unsettled += 1;
            }
        }
        if !stable.is_empty() {
            ctx.journal
                .mark_stable_many(&stable)
                .await
                .map_err(|e| ctx.journal_error(&e))?;
            changed = true;
        }
    }
    settle.end_scan();
    Ok((unsettled, changed))
}
