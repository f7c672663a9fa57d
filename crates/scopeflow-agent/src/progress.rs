//! The long-running agent's progress line: files and bytes per second, queue and time to
//! drain it, every [`EVERY`], from the same journal figures `status` shows.

use std::time::Duration;

use scopeflow_journal::Journal;

/// Often enough to watch a plate drain, rare enough not to fill the log of an idle agent
/// (which logs nothing: see [`log_once`]).
pub(crate) const EVERY: Duration = Duration::from_secs(10);

/// Logs the progress line every [`EVERY`] until aborted.
pub(crate) async fn run(journal: Journal) {
    let mut tick = tokio::time::interval(EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        log_once(&journal).await;
    }
}

/// One progress line, unless nothing is queued and nothing moved in the window.
pub(crate) async fn log_once(journal: &Journal) {
    match journal.throughput().await {
        Ok(t) if t.queue == 0 && t.recent_files == 0 => {}
        Ok(t) => tracing::info!(
            files_per_s = %format!("{:.1}", t.files_per_s()),
            mb_per_s = %format!("{:.1}", t.bytes_per_s() / 1e6),
            queue = t.queue,
            queue_mb = %format!("{:.0}", t.queue_bytes as f64 / 1e6),
            eta_s = %t.eta_s().map_or_else(|| "unknown".to_string(), |s| format!("{s:.0}")),
            "progress"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot read progress from the journal"),
    }
}
