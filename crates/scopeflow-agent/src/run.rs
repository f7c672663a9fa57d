//! Starting and stopping the agent: the journal, the destinations, the watchers and the
//! reporter around the loop in [`crate::schedule`], and the summary `--once` exits with.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use scopeflow_core::FileState;
use scopeflow_journal::Journal;
use scopeflow_pipeline::Pipeline;

use crate::job::Agent;
use crate::scan::Filter;
use crate::schedule::{GRACE, Schedule};

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
pub struct Summary {
    pub verified: usize,
    pub failed: usize,
    pub quarantined: usize,
    pub pending: usize,
}

impl Summary {
    pub fn all_verified(&self) -> bool {
        self.failed == 0 && self.quarantined == 0 && self.pending == 0
    }
}

/// Runs the pipeline until `shutdown` resolves, or, with `once`, until every stable file has
/// been handled and nothing is left to do now (see [`Schedule`]).
///
/// # Errors
/// The pipeline cannot run (see [`AgentError`]); per-file failures are in the journal.
pub async fn run(
    pipeline: Pipeline,
    once: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, AgentError> {
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
    count_crashes(&journal, &pipeline).await?;
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
    let progress = (!once).then(|| tokio::spawn(crate::progress::run(journal.clone())));
    let notifier =
        crate::alarms::Notifier::new(&pipeline, journal.clone()).map_err(AgentError::Config)?;
    let notifying = notifier
        .clone()
        .map(|n| tokio::spawn(async move { n.run().await }));
    let changes = Arc::new(crate::watch::Changes::default());
    let _watchers = if once {
        None
    } else {
        start_watchers(&pipeline, &changes)
    };
    let ctx = Arc::new(Agent {
        convert_gate: Arc::new(tokio::sync::Semaphore::new(pipeline.workers)),
        pipeline,
        journal,
        destinations,
        work_root,
        watch_keys,
        notifier,
    });
    let crates = (!once).then(|| tokio::spawn(crate::rocrate::run(ctx.clone())));
    Schedule::new(&ctx)
        .run(&ctx, &filters, once, &changes, shutdown)
        .await?;
    if let Some(task) = crates {
        task.abort();
    }
    crate::rocrate::write_changed(&ctx, &mut crate::rocrate::Written::default()).await;
    // Jobs cut short by a stop are redone at the next start; they did not crash anything.
    if let Err(e) = ctx.journal.processing_abandoned().await {
        tracing::warn!(error = %e, "cannot clear the processing records");
    }
    if let Some(task) = reporting {
        task.abort();
    }
    if let Some(task) = progress {
        task.abort();
    }
    if let Some(n) = &ctx.notifier {
        // The background sender finishes the delivery under way first: two senders at once
        // would send the same alarm twice.
        n.stop();
        if let Some(mut task) = notifying
            && tokio::time::timeout(crate::schedule::GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        crate::alarms::last_delivery(n, &ctx.journal).await;
    }
    crate::progress::log_once(&ctx.journal).await;
    if let Some(r) = &reporter {
        last_report(r).await;
    }
    summary(&ctx).await
}

/// Files that were being processed when the process died count a failed attempt each (and
/// are quarantined after the last), so a file that kills the agent cannot crash-loop it.
async fn count_crashes(journal: &Journal, pipeline: &Pipeline) -> Result<(), AgentError> {
    let r = &pipeline.retry;
    let crashed = journal
        .count_interrupted(r.max_attempts, r.backoff, r.max_backoff)
        .await
        .map_err(|e| AgentError::Journal {
            path: pipeline.state.clone(),
            error: e.to_string(),
        })?;
    for c in crashed {
        tracing::error!(
            file = %c.rel,
            attempt = c.attempt,
            state = c.state.as_str(),
            "the process died while processing this file"
        );
    }
    Ok(())
}

/// File events where the system gives them; without, the periodic rescans still find
/// everything.
fn start_watchers(
    pipeline: &Pipeline,
    changes: &Arc<crate::watch::Changes>,
) -> Option<crate::watch::Watchers> {
    let entries: Vec<_> = pipeline
        .watch
        .iter()
        .map(|w| (w.path.clone(), w.poll, w.poll_interval))
        .collect();
    match crate::watch::start(&entries, changes.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "file events unavailable; relying on periodic rescans");
            None
        }
    }
}

/// One last send, so `--once` runs (and a stopping service) leave little waiting; what does
/// not go now goes at the next start.
async fn last_report(r: &crate::report::Reporter) {
    r.prune().await;
    match tokio::time::timeout(GRACE, r.flush(false)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) | Err(_) => {
            tracing::warn!("events not sent to the central server yet; they wait in the journal")
        }
    }
}

async fn summary(ctx: &Agent) -> Result<Summary, AgentError> {
    let rows = ctx
        .journal
        .status()
        .await
        .map_err(|e| ctx.journal_error(&e))?;
    // Only the newest version of each file counts: an old version is history.
    let mut latest: std::collections::HashMap<(String, String), (i64, FileState)> =
        std::collections::HashMap::new();
    for r in rows {
        let f = &r.file;
        let key = (f.watch.clone(), f.rel.clone());
        if latest.get(&key).is_none_or(|(v, _)| f.version > *v) {
            latest.insert(key, (f.version, f.state));
        }
    }
    let mut o = Summary::default();
    for (_, state) in latest.values() {
        match state {
            FileState::Verified | FileState::Purged => o.verified += 1,
            FileState::Quarantined => o.quarantined += 1,
            FileState::Failed => o.failed += 1,
            _ => o.pending += 1,
        }
    }
    Ok(o)
}
