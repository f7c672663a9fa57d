//! Housekeeping: trash entries past `trash_keep`, and the agent's work folders of files that
//! no longer need them.

use std::path::Path;

use chrono::SecondsFormat;

use crate::RetentionError;
use crate::report::Report;
use crate::run::RobotRun;

/// Deletes raw files that have been in the trash for `trash_keep` (by the run's clock). Only
/// files the robot put there are listed; a file already gone is simply recorded as deleted.
pub(crate) async fn expire(ctx: &RobotRun<'_>, report: &mut Report) -> Result<(), RetentionError> {
    let keep =
        chrono::TimeDelta::from_std(ctx.p.retention.trash_keep).unwrap_or(chrono::TimeDelta::MAX);
    let Some(cutoff) = ctx.now.checked_sub_signed(keep) else {
        return Ok(());
    };
    let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Millis, true);
    for e in ctx.journal.retention_trash_due(&cutoff).await? {
        let path = Path::new(&e.path);
        let reason = match crate::purge::delete(path) {
            Ok(()) => format!(
                "expired: deleted from the trash, moved there at {}",
                e.trashed_at
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                format!(
                    "expired: already gone from the trash (moved there at {})",
                    e.trashed_at
                )
            }
            Err(err) => {
                tracing::warn!(file = %e.path, error = %err, "retention: cannot delete from the trash; next run retries");
                continue;
            }
        };
        crate::purge::crash_point("after-expire");
        let file = ctx.journal.get(e.file_id).await?;
        let rec = ctx
            .audit
            .record(&file, None, "expired", "expired", &reason, Vec::new());
        ctx.audit.append(std::slice::from_ref(&rec))?;
        ctx.journal
            .retention_trash_deleted(e.file_id, &ctx.audit.at, &rec)
            .await?;
        report.expired.push(e.path.clone());
    }
    Ok(())
}

/// Removes the agent's work folder of file `id`, beside the journal (its conversion outputs,
/// already delivered).
pub(crate) async fn remove_work(ctx: &RobotRun<'_>, id: i64) {
    let dir = ctx.work_root.join(id.to_string());
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => tracing::info!(folder = %dir.display(), "retention: removed a work folder"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(folder = %dir.display(), error = %e, "retention: cannot remove a work folder")
        }
    }
}

/// Work folders left behind for files that are verified or purged (the agent removes them
/// itself once verified, unless it was stopped in between). Folders of files still in
/// progress, and anything not named by a file id, are left alone.
pub(crate) async fn clean_work(ctx: &RobotRun<'_>) {
    let Ok(entries) = std::fs::read_dir(&ctx.work_root) else {
        return;
    };
    for e in entries.flatten() {
        let Some(id) = e
            .file_name()
            .to_str()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        if let Ok(f) = ctx.journal.get(id).await
            && f.state.is_delivered()
        {
            remove_work(ctx, id).await;
        }
    }
}
