//! `scopeflow retry`: an operator re-queues files the agent gave up on (quarantined after a
//! permanent error or its last attempt), once the cause is fixed.

use std::path::{Path, PathBuf};

use scopeflow_pipeline::Pipeline;

use super::{load_pipeline, runtime};
use crate::Failure;

pub(crate) fn run(config: &Path, paths: &[PathBuf], all: bool) -> Result<(), Failure> {
    let pipeline = load_pipeline(config)?;
    if !pipeline.state.exists() {
        return Err(Failure::work(anyhow::anyhow!(
            "no journal yet at {} (the agent has not run): nothing to retry",
            pipeline.state.display()
        )));
    }
    let wanted: Option<Vec<String>> =
        (!all).then(|| paths.iter().map(|p| rel_of(&pipeline, p)).collect());
    let done = runtime()?.block_on(async {
        let journal = scopeflow_journal::Journal::open(&pipeline.state).await?;
        let done = journal.requeue(wanted.as_deref()).await;
        journal.close().await;
        done
    });
    let done =
        done.map_err(|e| Failure::work(anyhow::anyhow!("{}: {e}", pipeline.state.display())))?;
    for (_, rel) in &done {
        println!("re-queued {rel}");
    }
    let missing: Vec<&String> = wanted
        .iter()
        .flatten()
        .filter(|w| !done.iter().any(|(_, rel)| rel == *w))
        .collect();
    if !missing.is_empty() {
        let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(Failure::work(anyhow::anyhow!(
            "not quarantined or failed (nothing to retry): {}",
            list.join(", ")
        )));
    }
    if done.is_empty() {
        println!("nothing to retry: no file is quarantined or failed");
    }
    Ok(())
}

/// PATH as the journal knows it: relative to the watched folder holding it when it names a
/// file there, else as given (the form `status` prints).
pub(super) fn rel_of(pipeline: &Pipeline, path: &Path) -> String {
    let absolute = std::path::absolute(path).ok();
    for w in &pipeline.watch {
        let root = std::path::absolute(&w.path).unwrap_or_else(|_| w.path.clone());
        if let Some(rel) = absolute.as_deref().and_then(|a| a.strip_prefix(&root).ok())
            && path.exists()
        {
            return rel.to_string_lossy().replace('\\', "/");
        }
    }
    path.to_string_lossy().replace('\\', "/")
}
