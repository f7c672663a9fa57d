//! One file's way from `stable` to `verified`, resumable at any step: a job looks at the
//! journal row and does the first thing not yet durable (process, then each destination not
//! yet verified). Every step is idempotent, so a job killed anywhere is simply run again.

use std::path::PathBuf;
use std::sync::Arc;

use scopeflow_journal::{FileRow, Journal};
use scopeflow_pipeline::Pipeline;
use scopeflow_transfer::Destination;

use crate::deliver::{DeliverError, deliver};
use crate::process::{ProcessError, Processed, process};
use scopeflow_destinations::outputs;

pub struct Ctx {
    pub pipeline: Pipeline,
    pub journal: Journal,
    pub destinations: Vec<Arc<dyn Destination>>,
    pub work_root: PathBuf,
    /// The journal's key for each watch entry (its configured folder).
    pub watch_keys: Vec<String>,
}

impl Ctx {
    fn raw_path(&self, row: &FileRow) -> Option<PathBuf> {
        let i = self.watch_keys.iter().position(|k| *k == row.watch)?;
        Some(self.pipeline.watch[i].path.join(&row.rel))
    }

    fn destination_names(&self) -> Vec<String> {
        self.destinations
            .iter()
            .map(|d| d.name().to_string())
            .collect()
    }

    async fn failed(&self, row: &FileRow, error: &str) {
        let r = &self.pipeline.retry;
        match self
            .journal
            .mark_failed(row.id, error, r.max_attempts, r.backoff, r.max_backoff)
            .await
        {
            Ok(state) => tracing::warn!(file = %row.rel, state, error, "file failed"),
            Err(e) => {
                tracing::error!(file = %row.rel, error = %e, "cannot record a failure in the journal")
            }
        }
    }

    async fn deferred(&self, row: &FileRow, error: &str) {
        let delay = self
            .pipeline
            .retry
            .backoff
            .max(std::time::Duration::from_secs(1));
        tracing::warn!(file = %row.rel, error, "will retry later");
        if let Err(e) = self.journal.defer(row.id, error, delay).await {
            tracing::error!(file = %row.rel, error = %e, "cannot record a deferral in the journal");
        }
    }
}

/// Runs whatever `row` still needs. Failures are recorded in the journal, never returned:
/// one bad file must not stop the others.
pub async fn run(ctx: Arc<Ctx>, row: FileRow) {
    let Some(raw) = ctx.raw_path(&row) else {
        ctx.failed(
            &row,
            &format!("{}: its watch folder is no longer in the pipeline", row.rel),
        )
        .await;
        return;
    };
    let meta = match tokio::fs::metadata(&raw).await {
        Ok(m) => m,
        Err(e) => {
            ctx.failed(&row, &format!("{}: {e}", raw.display())).await;
            return;
        }
    };
    if meta.len() != row.size || crate::scan::mtime_ns(&meta) != row.mtime_ns {
        // Written to again: the journal decides whether this is still the same version.
        let _ = ctx
            .journal
            .observe(
                &row.watch,
                &row.rel,
                meta.len(),
                crate::scan::mtime_ns(&meta),
            )
            .await;
        return;
    }
    let existing = row
        .sha256
        .as_deref()
        .and_then(|sha| Processed::existing(&ctx.work_root, row.id, sha));
    let processed = match existing {
        Some(p) => p,
        None => {
            let (raw2, work, steps, id) = (
                raw.clone(),
                ctx.work_root.clone(),
                ctx.pipeline.steps.clone(),
                row.id,
            );
            let result =
                tokio::task::spawn_blocking(move || process(&raw2, &work, id, &steps)).await;
            match result {
                Ok(Ok(p)) => {
                    // The server gets the QC document with the `processed` event; a document
                    // that cannot be read here only costs the server its QC figures.
                    let qc = tokio::fs::read_to_string(&p.qc_json).await.ok();
                    if let Err(e) = ctx
                        .journal
                        .mark_processed(row.id, &p.sha256, qc.as_deref())
                        .await
                    {
                        tracing::error!(file = %row.rel, error = %e, "cannot record processed");
                        return;
                    }
                    p
                }
                Ok(Err(ProcessError::Changed(_))) => {
                    if let Ok(m) = tokio::fs::metadata(&raw).await {
                        let _ = ctx
                            .journal
                            .observe(&row.watch, &row.rel, m.len(), crate::scan::mtime_ns(&m))
                            .await;
                    }
                    return;
                }
                Ok(Err(ProcessError::Local(e))) => return ctx.deferred(&row, &e).await,
                Ok(Err(ProcessError::Input(e))) => return ctx.failed(&row, &e).await,
                Err(e) => {
                    return ctx
                        .failed(&row, &format!("{}: processing crashed: {e}", raw.display()))
                        .await;
                }
            }
        }
    };
    let mut shares_stem = false;
    let mine = match ctx.journal.first_id(&row.watch, &row.rel).await {
        Ok(id) => id.unwrap_or(row.id),
        Err(e) => return tracing::error!(error = %e, "journal read failed"),
    };
    for sibling in scopeflow_destinations::stem_siblings(&row.rel) {
        match ctx.journal.first_id(&row.watch, &sibling).await {
            Ok(Some(other)) if other < mine => shares_stem = true,
            Ok(_) => {}
            Err(e) => return tracing::error!(error = %e, "journal read failed"),
        }
    }
    let names = outputs(&row.rel, row.version, shares_stem);
    let copies = match ctx.journal.copies(row.id).await {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "journal read failed"),
    };
    let state_of = |name: &str| {
        copies
            .iter()
            .find(|c| c.destination == name)
            .map(|c| c.state.clone())
    };
    let mut failure: Option<(bool, String)> = None;
    for dest in &ctx.destinations {
        let before = state_of(dest.name());
        if before.as_deref() == Some("verified") {
            continue;
        }
        let resend = before.as_deref() == Some("invalid");
        let (sha, manifest) = match deliver(dest.as_ref(), &raw, &processed, &names, resend).await {
            Ok(v) => v,
            Err(e) => {
                if matches!(e, DeliverError::RawMismatch { .. }) {
                    let _ = ctx
                        .journal
                        .copy_invalid(row.id, dest.name(), &e.to_string())
                        .await;
                }
                // Other destinations still get their copy; the failure is recorded after.
                failure.get_or_insert((e.is_transient(), format!("{}: {e}", dest.name())));
                continue;
            }
        };
        if let Err(e) = ctx
            .journal
            .copy_transferred(row.id, dest.name(), &sha, &names.raw)
            .await
        {
            return tracing::error!(error = %e, "journal write failed");
        }
        // Resuming after a crash between the manifest append and the journal's `verified`:
        // append only what is missing, so each file keeps one line.
        let recorded = if before.as_deref() == Some("transferred") {
            dest.record_missing(&manifest).await
        } else {
            dest.record(&manifest).await
        };
        if let Err(e) = recorded {
            failure.get_or_insert((e.is_transient(), format!("{}: {e}", dest.name())));
            continue;
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if let Err(e) = ctx
            .journal
            .copy_verified(row.id, dest.name(), &sha, &now)
            .await
        {
            return tracing::error!(error = %e, "journal write failed");
        }
    }
    if let Some((transient, error)) = failure {
        return if transient {
            ctx.deferred(&row, &error).await
        } else {
            ctx.failed(&row, &error).await
        };
    }
    match ctx
        .journal
        .refresh_state(row.id, &ctx.destination_names())
        .await
    {
        Ok(state) if state == "verified" => {
            tracing::info!(file = %row.rel, version = row.version, "verified at every destination");
            let _ = tokio::fs::remove_dir_all(&processed.dir).await;
            if ctx.pipeline.protect_raw {
                protect(&raw);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "journal write failed"),
    }
}

/// Removes write permission from an ingested raw file (Unix: every w bit; Windows: the
/// read-only attribute), so a mistaken save cannot alter the only original.
fn protect(raw: &std::path::Path) {
    match std::fs::metadata(raw) {
        Ok(m) => {
            let mut p = m.permissions();
            p.set_readonly(true);
            if let Err(e) = std::fs::set_permissions(raw, p) {
                tracing::warn!(file = %raw.display(), error = %e, "cannot remove write permission");
            }
        }
        Err(e) => tracing::warn!(file = %raw.display(), error = %e, "cannot read permissions"),
    }
}
