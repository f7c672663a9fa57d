//! Finishing what a killed run left: each intent says which file was about to be deleted or
//! moved. Source still in place, unchanged: nothing happened, the file is decided again.
//! Source gone (or replaced by other content): the purge happened and only the journal's
//! side is missing; copies are re-verified for the audit and the file is marked purged.

use std::path::Path;

use scopeflow_journal::{CopyState, FileStatus, JournalError};

use crate::RetentionError;
use crate::assess::stat;
use crate::report::{Decision, Report};
use crate::run::RobotRun;
use crate::verify::{Finding, verify_copies};

pub(crate) async fn recover(ctx: &RobotRun<'_>, report: &mut Report) -> Result<(), RetentionError> {
    for intent in ctx.journal.retention_intents().await? {
        let file = match ctx.journal.get(intent.file_id).await {
            Ok(f) => f,
            Err(JournalError::NotFound { .. }) => {
                ctx.journal.retention_abandon(intent.file_id).await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let untouched = stat(Path::new(&intent.source)) == Some((file.size, file.mtime_ns));
        if untouched || !file.state.is_delivered() {
            ctx.journal.retention_abandon(file.id).await?;
            continue;
        }
        let copies = ctx.journal.copies(file.id).await?;
        let c = FileStatus {
            file,
            format: None,
            copies,
        };
        let f = &c.file;
        let sha = f.sha256.clone().unwrap_or_default();
        let names: Vec<(String, String)> = c
            .copies
            .iter()
            .filter(|k| k.state == CopyState::Verified)
            .map(|k| {
                (
                    k.destination.clone(),
                    k.verified_at.clone().unwrap_or_default(),
                )
            })
            .collect();
        let checks = verify_copies(&c, &names, &ctx.destinations, &ctx.down).await;
        let mut notes = Vec::new();
        for k in &checks {
            if let Finding::Mismatch(e) = &k.outcome {
                tracing::error!(
                    file = %f.rel, destination = %k.destination, error = %e,
                    "ALARM retention: a file purged by an interrupted run has a damaged copy"
                );
                ctx.journal.copy_invalid(f.id, &k.destination, e).await?;
                notes.push(format!("copy at {} damaged: {e}", k.destination));
            }
        }
        let trash = intent.target.as_deref();
        if let Some(t) = trash
            && stat(Path::new(t)).is_none()
        {
            tracing::error!(file = %f.rel, trash = t, "ALARM retention: moved to the trash by an interrupted run, but not there now");
            notes.push(format!("not found in the trash at {t}"));
        }
        let what = trash.map_or_else(|| "deleted".to_string(), |t| format!("moved to {t}"));
        let reason = format!(
            "recovered: {what} by an interrupted run; journal completed now{}",
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        );
        let evidence = checks.iter().map(|k| k.evidence(&sha)).collect();
        let rec = ctx
            .audit
            .record(f, None, "recovered", "interrupted", &reason, evidence);
        let at = ctx.audit.at.clone();
        ctx.audit.append(std::slice::from_ref(&rec))?;
        ctx.journal
            .retention_purged(f.id, trash.map(|t| (t, at.as_str())), &rec)
            .await?;
        crate::trash::remove_work(ctx, f.id).await;
        report.purge.push(Decision {
            watch: f.watch.clone(),
            path: f.rel.clone(),
            code: "interrupted",
            reason,
        });
    }
    Ok(())
}
