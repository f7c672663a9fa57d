use std::path::Path;

use serde_json::json;

use super::{load_pipeline, print_json, runtime};
use crate::Failure;

pub(crate) fn run(config: &Path, as_json: bool) -> Result<(), Failure> {
    let pipeline = load_pipeline(config)?;
    if !pipeline.state.exists() {
        // Never ran: say so without creating an empty journal as a side effect.
        if as_json {
            return print_json(&json!({ "files": [] }));
        }
        println!(
            "no journal yet at {} (the agent has not run)",
            pipeline.state.display()
        );
        return Ok(());
    }
    let rows = runtime()?.block_on(async {
        let journal = scopeflow_journal::Journal::open(&pipeline.state).await?;
        Ok::<_, scopeflow_journal::JournalError>((
            journal.status().await?,
            journal.rejected().await?,
        ))
    });
    let (rows, rejected) =
        rows.map_err(|e| Failure::work(anyhow::anyhow!("{}: {e}", pipeline.state.display())))?;
    // Events the central server refused for good: kept in the journal, never resent.
    let rejected: Vec<_> = rejected
        .into_iter()
        .map(|(id, kind, at, reason)| json!({"id": id, "kind": kind, "at": at, "reason": reason}))
        .collect();
    if as_json {
        let files: Vec<_> = rows.iter().map(|r| r.to_json()).collect();
        return print_json(&json!({ "files": files, "rejected_events": rejected }));
    }
    for r in &rejected {
        println!("event rejected by the central server: {r}");
    }
    println!(
        "{:<12} {:>3} {:<14} {:<50} error",
        "state", "ver", "sha256", "path"
    );
    for r in &rows {
        let f = &r.file;
        let sha = f
            .sha256
            .as_deref()
            .map_or("-", |s| s.get(..12).unwrap_or(s));
        println!(
            "{:<12} {:>3} {:<14} {:<50} {}",
            f.state,
            f.version,
            sha,
            f.rel,
            f.error.as_deref().unwrap_or("")
        );
        for c in &r.copies {
            println!(
                "{:<12} {:>3} {:<14}   -> {} {}",
                "",
                "",
                "",
                c.destination,
                c.verified_at.as_deref().unwrap_or(c.state.as_str())
            );
        }
    }
    Ok(())
}
