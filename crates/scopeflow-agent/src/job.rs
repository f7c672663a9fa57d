//! One file's way from `stable` to `verified`, resumable at any step: a job looks at the
//! journal row and does the first thing not yet durable (process, then each destination not
//! yet verified). Every step is idempotent, so a job killed anywhere is simply run again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use scopeflow_core::{CopyState, FileState};
use scopeflow_destinations::{OutputNames, outputs};
use scopeflow_journal::{FileRow, Journal};
use scopeflow_pipeline::Pipeline;
use scopeflow_transfer::Destination;

use crate::deliver::{DeliverError, deliver};
use crate::early::{Early, EarlyCopies};
use crate::process::{ProcessError, Processed, process};
use crate::run::AgentError;

pub struct Agent {
    pub pipeline: Pipeline,
    pub journal: Journal,
    pub destinations: Vec<Arc<dyn Destination>>,
    pub work_root: PathBuf,
    /// The journal's key for each watch entry (its configured folder).
    pub watch_keys: Vec<String>,
    /// Tells people about QC alarms; `None` when the pipeline notifies nobody.
    pub(crate) notifier: Option<Arc<crate::alarms::Notifier>>,
    /// `workers` permits: files converted at once. More files than that are in flight
    /// ([`Agent::files_in_flight`]) so that their flushes, copies, read-backs and syncs, which
    /// wait on the disk, overlap with conversions, which use the cores; memory stays bounded
    /// by the conversions, since a file waiting here holds nothing.
    pub(crate) convert_gate: Arc<tokio::sync::Semaphore>,
}

/// Files in flight per conversion slot. Measured on 1,000 plate-reader files of 1-4 MB with 2
/// slots (BENCHMARKS.md): 26.5 files/s with as many files in flight as slots (the ~60 syncs
/// of each file left the cores idle half the time), 35.5 with 2 per slot, 39.8 with 4; large
/// files neither gain nor lose.
const FILES_PER_WORKER: usize = 4;

impl Agent {
    /// How many files the scheduler keeps in flight.
    pub(crate) fn files_in_flight(&self) -> usize {
        self.pipeline.workers.saturating_mul(FILES_PER_WORKER)
    }

    /// The journal failed: nothing can be recorded, so the agent stops.
    pub(crate) fn journal_error(&self, e: &scopeflow_journal::JournalError) -> AgentError {
        AgentError::Journal {
            path: self.pipeline.state.clone(),
            error: e.to_string(),
        }
    }

    fn raw_path(&self, row: &FileRow) -> Option<PathBuf> {
        Some(self.watch_root(row)?.join(&row.rel))
    }

    fn watch_root(&self, row: &FileRow) -> Option<&std::path::Path> {
        let i = self.watch_keys.iter().position(|k| *k == row.watch)?;
        Some(&self.pipeline.watch[i].path)
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
            Ok(state) => {
                tracing::warn!(file = %row.rel, state = state.as_str(), error, "file failed")
            }
            Err(e) => {
                tracing::error!(file = %row.rel, error = %e, "cannot record a failure in the journal")
            }
        }
    }

    /// A failure only an operator can fix: quarantined at once (`scopeflow retry` re-queues).
    async fn quarantine(&self, row: &FileRow, error: &str) {
        let r = &self.pipeline.retry;
        if let Err(e) = self
            .journal
            .mark_failed(row.id, error, 1, r.backoff, r.max_backoff)
            .await
        {
            tracing::error!(file = %row.rel, error = %e, "cannot record a failure in the journal");
        } else {
            tracing::warn!(file = %row.rel, error, "quarantined: permanent failure");
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
pub async fn run(ctx: Arc<Agent>, row: FileRow) {
    let Some(raw) = unchanged_raw(&ctx, &row).await else {
        return;
    };
    let Some(names) = output_names(&ctx, &row).await else {
        return;
    };
    let Some((processed, mut early)) = processed(&ctx, &row, &raw, &names).await else {
        return;
    };
    match deliver_everywhere(&ctx, &row, &raw, &processed, &names, &mut early).await {
        Ok(()) => {}
        Err(Stop::Logged) => return,
        Err(Stop::Transient(error)) => return ctx.deferred(&row, &error).await,
        Err(Stop::Failed(error)) => return ctx.failed(&row, &error).await,
        Err(Stop::Permanent(error)) => return ctx.quarantine(&row, &error).await,
    }
    match ctx
        .journal
        .refresh_state(row.id, &ctx.destination_names())
        .await
    {
        Ok(FileState::Verified) => {
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

/// Why a job stops before its file is verified everywhere.
enum Stop {
    /// The journal failed; already logged, nothing more can be recorded.
    Logged,
    /// Retry later without counting an attempt (a destination down or full).
    Transient(String),
    /// Counts as a failed attempt.
    Failed(String),
    /// Only an operator can fix it: quarantined at once.
    Permanent(String),
}

/// The raw file, if it is still the one the journal row describes; otherwise the row is
/// failed (file gone) or observed again (written to since: maybe a new version).
async fn unchanged_raw(ctx: &Agent, row: &FileRow) -> Option<PathBuf> {
    let Some(raw) = ctx.raw_path(row) else {
        let why = format!("{}: its watch folder is no longer in the pipeline", row.rel);
        ctx.failed(row, &why).await;
        return None;
    };
    let meta = match tokio::fs::metadata(&raw).await {
        Ok(m) => m,
        Err(e) => {
            ctx.failed(row, &format!("{}: {e}", raw.display())).await;
            return None;
        }
    };
    let mtime_ns = crate::scan::mtime_ns(&meta);
    if meta.len() != row.size || mtime_ns != row.mtime_ns {
        // Written to again: the journal decides whether this is still the same version.
        let _ = ctx
            .journal
            .observe(&row.watch, &row.rel, meta.len(), mtime_ns)
            .await;
        return None;
    }
    Some(raw)
}

/// The work folder of a processed file: the one a previous run completed, or a new one
/// (recorded `processed` in the journal), with the raw copies made meanwhile
/// ([`EarlyCopies`]). `None` when processing failed (recorded).
async fn processed(
    ctx: &Agent,
    row: &FileRow,
    raw: &std::path::Path,
    names: &OutputNames,
) -> Option<(Processed, HashMap<String, Early>)> {
    let existing = row
        .sha256
        .as_deref()
        .and_then(|sha| Processed::existing(&ctx.work_root, row.id, sha));
    if let Some(p) = existing {
        return Some((p, HashMap::new()));
    }
    let root = ctx.watch_root(row).unwrap_or(raw);
    let described = match crate::describe::describe(&ctx.pipeline, root, raw) {
        Ok(d) => d,
        Err(e) => {
            ctx.quarantine(row, &e).await;
            return None;
        }
    };
    let (raw2, work, steps, id) = (
        raw.to_owned(),
        ctx.work_root.clone(),
        ctx.pipeline.steps.clone(),
        row.id,
    );
    // Never closed, so `acquire_owned` only waits.
    let Ok(converting) = ctx.convert_gate.clone().acquire_owned().await else {
        return None;
    };
    if let Err(e) = ctx.journal.processing_started(row.id).await {
        tracing::error!(file = %row.rel, error = %e, "cannot record that processing started");
        return None;
    }
    let early = EarlyCopies::start(ctx, row, raw, names).await;
    let converted = tokio::task::spawn_blocking(move || {
        crate::isolate::file(&raw2, || process(&raw2, &work, id, &steps, described))
    })
    .await;
    if let Err(e) = ctx.journal.processing_ended(row.id).await {
        tracing::error!(file = %row.rel, error = %e, "cannot record that processing ended");
    }
    drop(converting);
    // The flush waits on the disk, outside the conversion slot.
    let result = match converted {
        Ok(Ok(c)) => tokio::task::spawn_blocking(move || c.publish()).await,
        Ok(Err(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    };
    match result {
        Ok(Ok(p)) => {
            // The server gets the QC document with the `processed` event; a document that
            // cannot be read here only costs the server its QC figures.
            let qc = tokio::fs::read_to_string(&p.qc_json).await.ok();
            if let Err(e) = crate::alarms::raise(
                &ctx.pipeline,
                &ctx.journal,
                ctx.notifier.as_ref(),
                row,
                qc.as_deref(),
            )
            .await
            {
                tracing::error!(file = %row.rel, error = %e, "cannot record QC alarms");
                return None;
            }
            // Only for a server: without one the thumbnail would wait in the journal for good
            // (about 100 KiB a file; a plate of 10,000 fills a gigabyte), and every
            // destination already holds it beside the OME-Zarr.
            let thumbnail = match ctx.pipeline.server {
                Some(_) => thumbnail_base64(p.thumbnail.as_deref()).await,
                None => None,
            };
            if let Err(e) = ctx
                .journal
                .mark_processed_with_thumbnail(
                    row.id,
                    &p.sha256,
                    qc.as_deref(),
                    thumbnail.as_deref(),
                )
                .await
            {
                tracing::error!(file = %row.rel, error = %e, "cannot record processed");
                return None;
            }
            let early = early.known(&p.sha256, row.size);
            Some((p, early))
        }
        Ok(Err(ProcessError::Changed(_))) => {
            if let Ok(m) = tokio::fs::metadata(raw).await {
                let _ = ctx
                    .journal
                    .observe(&row.watch, &row.rel, m.len(), crate::scan::mtime_ns(&m))
                    .await;
            }
            None
        }
        Ok(Err(ProcessError::Local(e))) => {
            ctx.deferred(row, &e).await;
            None
        }
        Ok(Err(ProcessError::Input(e))) => {
            ctx.failed(row, &e).await;
            None
        }
        Ok(Err(ProcessError::Permanent(e))) => {
            ctx.quarantine(row, &e).await;
            None
        }
        Err(e) => {
            let why = format!("{}: processing crashed: {e}", raw.display());
            ctx.failed(row, &why).await;
            None
        }
    }
}

/// The names of the file's outputs, which keep the extension in the derived names when
/// another raw file the journal saw first has the same stem.
async fn output_names(ctx: &Agent, row: &FileRow) -> Option<OutputNames> {
    let read_failed = |e: scopeflow_journal::JournalError| {
        tracing::error!(error = %e, "journal read failed");
    };
    let mine = match ctx.journal.first_id(&row.watch, &row.rel).await {
        Ok(id) => id.unwrap_or(row.id),
        Err(e) => {
            read_failed(e);
            return None;
        }
    };
    let mut shares_stem = false;
    for sibling in scopeflow_destinations::stem_siblings(&row.rel) {
        match ctx.journal.first_id(&row.watch, &sibling).await {
            Ok(Some(other)) if other < mine => shares_stem = true,
            Ok(_) => {}
            Err(e) => {
                read_failed(e);
                return None;
            }
        }
    }
    Some(outputs(&row.rel, row.version, shares_stem))
}

/// Sends, checks and records the copies every destination still lacks. Every destination is
/// tried even when one fails; the first failure is returned.
async fn deliver_everywhere(
    ctx: &Agent,
    row: &FileRow,
    raw: &std::path::Path,
    processed: &Processed,
    names: &OutputNames,
    early: &mut HashMap<String, Early>,
) -> Result<(), Stop> {
    let journal_failed = |e: scopeflow_journal::JournalError, what: &str| {
        tracing::error!(error = %e, "journal {what} failed");
        Stop::Logged
    };
    let copies = ctx
        .journal
        .copies(row.id)
        .await
        .map_err(|e| journal_failed(e, "read"))?;
    let state_of = |name: &str| {
        copies
            .iter()
            .find(|c| c.destination == name)
            .map(|c| c.state)
    };
    let mut failure: Option<Stop> = None;
    // A permanent failure wins: the file needs an operator whatever the other copies do.
    let note = |failure: &mut Option<Stop>,
                e: &dyn std::fmt::Display,
                transient: bool,
                permanent: bool,
                dest: &dyn Destination| {
        let error = format!("{}: {e}", dest.name());
        if permanent {
            *failure = Some(Stop::Permanent(error));
        } else if failure.is_none() {
            *failure = Some(if transient {
                Stop::Transient(error)
            } else {
                Stop::Failed(error)
            });
        }
    };
    for dest in &ctx.destinations {
        let before = state_of(dest.name());
        if before == Some(CopyState::Verified) {
            continue;
        }
        let resend = before == Some(CopyState::Invalid);
        let delivery = deliver(
            dest.as_ref(),
            raw,
            processed,
            names,
            resend,
            early.remove(dest.name()),
        );
        let (sha, manifest) = match crate::isolate::copy(dest.name(), delivery).await {
            Ok(v) => v,
            Err(e) => {
                if matches!(e, DeliverError::RawMismatch { .. }) {
                    let _ = ctx
                        .journal
                        .copy_invalid(row.id, dest.name(), &e.to_string())
                        .await;
                }
                // Other destinations still get their copy; the failure is recorded after.
                note(
                    &mut failure,
                    &e,
                    e.is_transient(),
                    e.is_permanent(),
                    dest.as_ref(),
                );
                continue;
            }
        };
        ctx.journal
            .copy_transferred(row.id, dest.name(), &sha, &names.raw)
            .await
            .map_err(|e| journal_failed(e, "write"))?;
        // Resuming after a crash between the manifest append and the journal's `verified`:
        // append only what is missing, so each file keeps one line.
        let recorded = if before == Some(CopyState::Transferred) {
            dest.record_missing(&manifest).await
        } else {
            dest.record(&manifest).await
        };
        if let Err(e) = recorded {
            note(
                &mut failure,
                &e,
                e.is_transient(),
                e.is_permanent(),
                dest.as_ref(),
            );
            continue;
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        ctx.journal
            .copy_verified(row.id, dest.name(), &sha, &now)
            .await
            .map_err(|e| journal_failed(e, "write"))?;
    }
    failure.map_or(Ok(()), Err)
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

/// The thumbnail for the `processed` event, base64; `None` (the server then shows none) when
/// there is none, it cannot be read, or it is too big.
async fn thumbnail_base64(path: Option<&std::path::Path>) -> Option<String> {
    use base64::Engine as _;
    let path = path?;
    let size = tokio::fs::metadata(path).await.ok()?.len();
    if size > scopeflow_core::MAX_THUMBNAIL_BYTES {
        tracing::warn!(thumbnail = %path.display(), size, "thumbnail too big to send to the server");
        return None;
    }
    match tokio::fs::read(path).await {
        Ok(png) => Some(base64::engine::general_purpose::STANDARD.encode(png)),
        Err(e) => {
            tracing::warn!(thumbnail = %path.display(), error = %e, "thumbnail unreadable; not sent to the server");
            None
        }
    }
}
