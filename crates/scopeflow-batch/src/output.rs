//! One raw file's outputs at DEST: the OME-Zarr (published atomically by `convert_file`), its
//! thumbnail and the QC document (each written under a temporary name, synced, renamed; the QC
//! document last, as the mark that the file is done), then the `sha256sum`
//! entries of every output file for the task's manifest part.

use std::path::{Path, PathBuf};

use scopeflow_ngff::{ConvertOptions, SeriesChoice};
use scopeflow_transfer::{Digest, RelPath};
use serde_json::json;

use crate::BatchError;
use crate::plan::{PlannedFile, write_atomic};

pub struct Converted {
    pub sha256: String,
    pub entries: Vec<(RelPath, Digest)>,
    pub adopted: bool,
}

fn fail(raw: &Path, why: impl std::fmt::Display) -> BatchError {
    BatchError::File(format!("{}: {why}", raw.display()))
}

fn stat(path: &Path) -> Result<(u64, Option<std::time::SystemTime>), BatchError> {
    let m = std::fs::metadata(path).map_err(|e| fail(path, e))?;
    Ok((m.len(), m.modified().ok()))
}

/// Removes hidden temporaries (`.NAME.scopeflow-tmp-…`) an interrupted run left beside `target`.
/// Safe: only this shard's task writes beside its own files, and it runs once at a time.
fn clean_temporaries(target: &Path) {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&prefix) && n.contains(scopeflow_transfer::remote::TEMP_MARKER) {
            let p = e.path();
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
    }
}

/// Takes an interrupted run's output away from its final name first (one rename), then
/// deletes it: a kill during the deletion leaves only a temporary, never half an output.
fn discard(target: &Path) -> Result<(), BatchError> {
    if !target.exists() {
        return Ok(());
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = target.with_file_name(format!(
        ".{name}.{}stale-{}",
        scopeflow_transfer::remote::TEMP_MARKER.trim_start_matches('.'),
        std::process::id()
    ));
    std::fs::rename(target, &aside).map_err(|e| BatchError::io(target, e))?;
    let _ = std::fs::remove_dir_all(&aside).or_else(|_| std::fs::remove_file(&aside));
    Ok(())
}

/// Converts `file` into `to`, or adopts outputs a killed run published but did not record.
///
/// `started_before`: this batch's records show an earlier start of this file, so a lone
/// OME-Zarr without its QC document is that run's and may be replaced.
///
/// # Errors
/// [`BatchError::File`] naming the raw file (or the output in the way) and the cause.
pub fn convert(
    from: &Path,
    to: &Path,
    file: &PlannedFile,
    opts: &ConvertOptions,
    started_before: bool,
) -> Result<Converted, BatchError> {
    let raw = from.join(&file.path);
    let zarr = to.join(&file.zarr);
    let qc = to.join(&file.qc);
    let png = to.join(scopeflow_destinations::thumbnail_beside(&file.qc));
    clean_temporaries(&zarr);
    clean_temporaries(&qc);
    clean_temporaries(&png);
    match (zarr.exists(), qc.exists()) {
        (true, true) => return adopt(&raw, to, file),
        (false, false) => {}
        (true, false) | (false, true) if started_before => {
            discard(&zarr)?;
            discard(&png)?;
            discard(&qc)?;
        }
        (z, _) => {
            let other = if z { &zarr } else { &qc };
            return Err(fail(
                other,
                format!(
                    "already exists and is not the output of this batch (converting {})",
                    raw.display()
                ),
            ));
        }
    }
    let before = stat(&raw)?;
    let inspect = scopeflow_formats::open(&raw)
        .map_err(|e| BatchError::File(e.to_string()))?
        .meta()
        .to_inspect_json();
    let report = scopeflow_ngff::convert_file(&raw, &zarr, opts, SeriesChoice::All, &|_| {})
        .map_err(|e| BatchError::File(e.to_string()))?;
    if stat(&raw)? != before {
        let _ = std::fs::remove_dir_all(&zarr);
        return Err(fail(&raw, "changed while it was being converted"));
    }
    // The same document the agent delivers as qc/STEM.json.
    let doc = json!({
        "inspect": inspect, "qc": report.qc_document(), "sha256": report.sha256,
        "modified_at": scopeflow_agent::modified_at(&raw),
    });
    let text = serde_json::to_vec_pretty(&doc).expect("a JSON value serialises");
    if let Some(parent) = qc.parent() {
        std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
    }
    scopeflow_ngff::sync_tree(&zarr).map_err(|e| fail(&zarr, e))?;
    if let Some(t) = report.thumbnail() {
        write_atomic(&png, &t.to_png().map_err(|e| fail(&png, e))?)?;
    }
    write_atomic(&qc, &text)?;
    Ok(Converted {
        entries: entries(to, file)?,
        sha256: report.sha256,
        adopted: false,
    })
}

/// Both outputs are published: they are this raw file's if the QC document names its sha256.
fn adopt(raw: &Path, to: &Path, file: &PlannedFile) -> Result<Converted, BatchError> {
    let qc = to.join(&file.qc);
    let doc: serde_json::Value = std::fs::read(&qc)
        .ok()
        .and_then(|t| serde_json::from_slice(&t).ok())
        .ok_or_else(|| fail(&qc, "exists but is not a QC document"))?;
    let (sha256, _) = scopeflow_ngff::sha256_file(raw).map_err(|e| fail(raw, e))?;
    if doc.get("sha256").and_then(|v| v.as_str()) != Some(sha256.as_str()) {
        return Err(fail(
            &qc,
            format!("already exists for other bytes than {}", raw.display()),
        ));
    }
    Ok(Converted {
        entries: entries(to, file)?,
        sha256,
        adopted: true,
    })
}

/// `(path relative to DEST, sha256)` of every file of the OME-Zarr, of the thumbnail (when
/// there is one) and of the QC document.
fn entries(to: &Path, file: &PlannedFile) -> Result<Vec<(RelPath, Digest)>, BatchError> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![to.join(&file.zarr)];
    while let Some(dir) = stack.pop() {
        let list = std::fs::read_dir(&dir).map_err(|e| BatchError::io(&dir, e))?;
        for e in list {
            let e = e.map_err(|e| BatchError::io(&dir, e))?;
            let ft = e
                .file_type()
                .map_err(|err| BatchError::io(&e.path(), err))?;
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    let png = to.join(scopeflow_destinations::thumbnail_beside(&file.qc));
    if png.is_file() {
        files.push(png);
    }
    files.push(to.join(&file.qc));
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(to)
                .expect("listed under DEST")
                .to_string_lossy()
                .replace('\\', "/");
            let rel = RelPath::new(&rel).map_err(|e| fail(&p, e))?;
            let (hex, _) = scopeflow_ngff::sha256_file(&p).map_err(|e| fail(&p, e))?;
            let digest = Digest::from_hex(&hex).map_err(|e| fail(&p, e))?;
            Ok((rel, digest))
        })
        .collect()
}
