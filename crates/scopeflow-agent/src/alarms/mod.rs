//! Live QC alarms: the pipeline's `qc:` rules checked as soon as a file's QC is known, each
//! broken rule journaled once per file version and channel, then told through every notifier
//! by a background task that retries with back-off and never holds up the pipeline.

mod desktop;
mod email;
mod evaluate;
mod notify;

use std::sync::Arc;

use scopeflow_journal::{FileRow, Journal};
use scopeflow_pipeline::Pipeline;

pub(crate) use notify::Notifier;

/// Journals the alarms of a processed file (QC document `qc_json`) and wakes the notifier.
/// Runs before the file is marked processed, so a crash in between re-runs it on restart; an
/// alarm already journaled is not repeated.
///
/// # Errors
/// The journal could not record them (the caller stops the file, to retry later).
pub(crate) async fn raise(
    pipeline: &Pipeline,
    journal: &Journal,
    notifier: Option<&Arc<Notifier>>,
    row: &FileRow,
    qc_json: Option<&str>,
) -> Result<(), scopeflow_journal::JournalError> {
    if !pipeline.qc.has_rules() {
        return Ok(());
    }
    let Some(doc) = qc_json.and_then(|t| serde_json::from_str(t).ok()) else {
        tracing::warn!(file = %row.rel, "QC document unreadable: QC rules not checked");
        return Ok(());
    };
    let alarms = evaluate::evaluate(&doc, &pipeline.qc, &pipeline.name);
    if alarms.is_empty() {
        return Ok(());
    }
    let notifiers = notify::keys(&pipeline.qc.notify);
    let new = journal.record_alarms(row.id, &alarms, &notifiers).await?;
    for a in &alarms {
        tracing::warn!(
            file = %row.rel,
            channel = a.channel,
            rule = %a.rule,
            value = a.value.unwrap_or(f64::NAN),
            threshold = a.threshold,
            "QC alarm"
        );
    }
    if new > 0
        && let Some(n) = notifier
    {
        n.wake();
    }
    Ok(())
}

/// Before a stop (and at the end of `--once`): deliveries due now get one more try, bounded by
/// the stop's grace time; what does not go waits in the journal for the next start.
pub(crate) async fn last_delivery(n: &Notifier, journal: &Journal) {
    let _ = tokio::time::timeout(crate::schedule::GRACE, n.deliver_due()).await;
    if let Ok(left) = journal.pending_deliveries().await
        && left > 0
    {
        tracing::warn!(
            deliveries = left,
            "QC alarms not delivered yet; they wait in the journal"
        );
    }
}
