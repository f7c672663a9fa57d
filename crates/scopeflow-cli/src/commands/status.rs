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
    let read = runtime()?.block_on(async {
        let journal = scopeflow_journal::Journal::open(&pipeline.state).await?;
        let rows = journal.status().await?;
        Ok::<_, scopeflow_journal::JournalError>((
            rows,
            super::throughput::figures(&journal).await?,
        ))
    });
    let (rows, throughput) =
        read.map_err(|e| Failure::work(anyhow::anyhow!("{}: {e}", pipeline.state.display())))?;
    if as_json {
        let files: Vec<_> = rows.iter().map(|r| r.to_json()).collect();
        return print_json(&json!({ "files": files, "throughput": throughput.to_json() }));
    }
    println!(
        "{:<12} {:>3} {:<14} {:<50} error",
        "state", "ver", "sha256", "path"
    );
    for r in &rows {
        let f = &r.file;
        let sha = f.sha256.as_deref().map_or("-", |s| &s[..s.len().min(12)]);
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
    super::throughput::print(&throughput);
    Ok(())
}
