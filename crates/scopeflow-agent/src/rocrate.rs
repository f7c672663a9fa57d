//! Keeps `ro-crate-metadata.json` at every destination in step with the journal: rebuilt from
//! it (never patched), published atomically, and batched: at most once per [`INTERVAL`] while
//! copies arrive, and once when the agent stops, so its cost does not grow per file.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scopeflow_destinations::{
    CrateFile, CrateInput, ROCRATE_FILE, build_rocrate, outputs, stem_siblings,
};
use scopeflow_journal::DescribedCopy;
use scopeflow_pipeline::Step;
use scopeflow_transfer::Destination;
use serde_json::Value;

use crate::job::Agent;

/// Longest a new verified copy waits before the crate lists it, while the agent runs.
pub(crate) const INTERVAL: Duration = Duration::from_secs(60);

/// What each destination's crate was last built from, so an unchanged one is not rewritten.
#[derive(Default)]
pub(crate) struct Written(HashMap<String, (i64, Option<String>)>);

/// Runs until aborted: every [`INTERVAL`], rewrites the crates whose destination got copies.
pub(crate) async fn run(ctx: Arc<Agent>) {
    let mut written = Written::default();
    loop {
        tokio::time::sleep(INTERVAL).await;
        write_changed(&ctx, &mut written).await;
    }
}

/// Rewrites the crate of every destination whose verified copies changed since `written`.
/// Failures are logged: the crate is rebuilt whole at the next pass.
pub(crate) async fn write_changed(ctx: &Agent, written: &mut Written) {
    for dest in &ctx.destinations {
        let name = dest.name().to_owned();
        let signature = match ctx.journal.verified_signature(&name).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(destination = %name, error = %e, "cannot read the journal for the RO-Crate");
                continue;
            }
        };
        if signature.0 == 0 || written.0.get(&name) == Some(&signature) {
            continue;
        }
        let started = std::time::Instant::now();
        match write(ctx, dest.as_ref()).await {
            Ok(files) => {
                let seconds = started.elapsed().as_secs_f64();
                tracing::info!(destination = %name, files, seconds, "RO-Crate written");
                written.0.insert(name, signature);
            }
            Err(e) => {
                tracing::warn!(destination = %name, error = %e, "cannot write the RO-Crate now")
            }
        }
    }
}

async fn write(ctx: &Agent, dest: &dyn Destination) -> Result<usize, String> {
    let rows = ctx
        .journal
        .described_copies(dest.name())
        .await
        .map_err(|e| e.to_string())?;
    let first = ctx.journal.first_ids().await.map_err(|e| e.to_string())?;
    let converts = ctx
        .pipeline
        .steps
        .iter()
        .any(|s| matches!(s, Step::Convert(_)));
    let files: Vec<CrateFile> = rows
        .iter()
        .map(|r| crate_file(r, &first, converts))
        .collect();
    // The latest verification, not the clock: the same journal gives the same bytes, so a run
    // that verified nothing new leaves the destination as it was.
    let now = rows
        .iter()
        .filter_map(|r| r.verified_at.clone())
        .max()
        .unwrap_or_default();
    let doc = build_rocrate(&CrateInput {
        pipeline: &ctx.pipeline.name,
        metadata: &ctx.pipeline.metadata,
        now: &now,
        files: &files,
    });
    let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    dest.publish_index(ROCRATE_FILE, bytes)
        .await
        .map_err(|e| e.to_string())?;
    Ok(files.len())
}

/// The copy as the crate describes it; names computed as the job that sent it did.
pub(crate) fn crate_file(
    r: &DescribedCopy,
    first: &HashMap<(String, String), i64>,
    converts: bool,
) -> CrateFile {
    let first_of = |rel: &str| first.get(&(r.watch.clone(), rel.to_owned())).copied();
    let mine = first_of(&r.rel).unwrap_or(i64::MAX);
    let shares_stem = stem_siblings(&r.rel)
        .iter()
        .any(|s| first_of(s).is_some_and(|other| other < mine));
    let names = outputs(&r.rel, r.version, shares_stem);
    let qc_doc: Option<Value> = r.qc.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let acquired_at = qc_doc
        .as_ref()
        .and_then(|d| d["inspect"]["acquired_at"].as_str().map(str::to_owned))
        .or_else(|| {
            chrono::DateTime::from_timestamp_nanos(r.mtime_ns)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .into()
        });
    // The acquiring user is the first folder of the path, when there is one.
    let user = r.rel.split_once('/').map(|(first, _)| first.to_owned());
    CrateFile {
        thumbnail: converts.then(|| names.thumbnail()),
        raw: names.raw,
        sha256: r.sha256.clone(),
        size: r.size,
        zarr: converts.then_some(names.zarr),
        qc: names.qc,
        qc_doc,
        acquired_at,
        user,
        verified_at: r.verified_at.clone(),
    }
}
