//! What the agent knows about a raw file before reading its pixels: whether its name follows
//! the facility's convention (`naming` step) and the dataset's descriptive metadata (the
//! pipeline's `metadata:` overridden by sidecar files). Both go into the QC document, hence the
//! journal, the server and the RO-Crate.

use std::path::Path;

use scopeflow_pipeline::{Metadata, NamingMode, Pipeline, SIDECAR_FILE, Step, load_sidecar};
use serde_json::{Map, Value, json};

/// Keys added to the QC document; `Err` is a reason to quarantine the file (a rejected name,
/// a sidecar file with mistakes): only an operator can fix either.
pub fn describe(
    pipeline: &Pipeline,
    watch_root: &Path,
    raw: &Path,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let name = raw
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for step in &pipeline.steps {
        let Step::Naming(naming) = step else {
            continue;
        };
        let problems = naming.check(&name);
        if naming.mode == NamingMode::Reject
            && let Some(first) = problems.first()
        {
            let all: Vec<&str> = problems.iter().map(|p| p.rule).collect();
            return Err(format!(
                "{}: naming rule `{}` failed: {} (rules failed: {})",
                raw.display(),
                first.rule,
                first.message,
                all.join(", ")
            ));
        }
        if !problems.is_empty() {
            tracing::warn!(file = %raw.display(), problems = problems.len(), "name breaks the naming convention");
        }
        let listed: Vec<Value> = problems
            .iter()
            .map(|p| json!({"rule": p.rule, "message": p.message}))
            .collect();
        let mode = match naming.mode {
            NamingMode::Warn => "warn",
            NamingMode::Reject => "reject",
        };
        out.insert(
            "naming".to_owned(),
            json!({"mode": mode, "ok": listed.is_empty(), "problems": listed}),
        );
    }
    let metadata = folder_metadata(&pipeline.metadata, watch_root, raw)?;
    if !metadata.is_empty() {
        let value = serde_json::to_value(&metadata).map_err(|e| e.to_string())?;
        out.insert("metadata".to_owned(), value);
    }
    Ok(out)
}

/// The pipeline's metadata overridden by every sidecar file from the watched folder down to
/// the raw file's folder, the nearest last.
fn folder_metadata(base: &Metadata, watch_root: &Path, raw: &Path) -> Result<Metadata, String> {
    let mut folders: Vec<&Path> = raw
        .ancestors()
        .skip(1)
        .take_while(|dir| dir.starts_with(watch_root))
        .collect();
    folders.reverse();
    let mut out = base.clone();
    for dir in folders {
        let sidecar = dir.join(SIDECAR_FILE);
        if !sidecar.is_file() {
            continue;
        }
        let over = load_sidecar(&sidecar).map_err(|e| e.to_string().trim_end().to_owned())?;
        out = out.merged(&over);
    }
    Ok(out)
}
