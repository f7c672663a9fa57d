//! `scopeflow export eln`: a selection of files as one self-contained `.eln` (the ELN
//! consortium's format, which eLabFTW imports): a zip holding one folder with
//! `ro-crate-metadata.json` and the files it describes. The files come from a `kind: local`
//! destination that holds verified copies, so what is exported is what was checked.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use scopeflow_destinations::{CrateFile, CrateInput, ROCRATE_FILE, build_rocrate};
use scopeflow_journal::{DescribedCopy, Journal};
use scopeflow_pipeline::{DestinationKind, Pipeline, Step};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

/// Why an export did not happen; nothing is left at the output path then.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A PATH is not exportable (not in the journal, no verified local copy).
    #[error("{0}")]
    Selection(String),
    #[error("{0}")]
    Failed(String),
}

/// Writes `rels` (paths as `status` shows them; the newest version of each) to `out`, and
/// returns how many files were exported.
///
/// # Errors
/// See [`ExportError`].
pub async fn export_eln(
    pipeline: &Pipeline,
    rels: &[String],
    out: &Path,
) -> Result<usize, ExportError> {
    let failed = |what: &dyn std::fmt::Display| ExportError::Failed(what.to_string());
    let journal = Journal::open(&pipeline.state)
        .await
        .map_err(|e| failed(&format!("{}: {e}", pipeline.state.display())))?;
    let first = journal.first_ids().await.map_err(|e| failed(&e))?;
    // The newest verified copy of each wanted path, at the first local destination holding one.
    let mut chosen: HashMap<&str, (DescribedCopy, PathBuf)> = HashMap::new();
    for dest in &pipeline.destinations {
        let DestinationKind::Local { path } = &dest.kind else {
            continue;
        };
        for row in journal
            .described_copies(&dest.name)
            .await
            .map_err(|e| failed(&e))?
        {
            let Some(want) = rels.iter().find(|r| **r == row.rel) else {
                continue;
            };
            let newer = chosen
                .get(want.as_str())
                .is_none_or(|(c, root)| root == path && c.version < row.version);
            if newer {
                chosen.insert(want.as_str(), (row, path.clone()));
            }
        }
    }
    journal.close().await;
    let missing: Vec<&str> = rels
        .iter()
        .map(String::as_str)
        .filter(|r| !chosen.contains_key(r))
        .collect();
    if !missing.is_empty() {
        return Err(ExportError::Selection(format!(
            "no verified copy at a kind: local destination of {} for: {}",
            pipeline.file.display(),
            missing.join(", ")
        )));
    }
    let converts = pipeline.steps.iter().any(|s| matches!(s, Step::Convert(_)));
    let mut files: Vec<(CrateFile, PathBuf)> = rels
        .iter()
        .filter_map(|r| chosen.get(r.as_str()))
        .map(|(row, root)| {
            (
                crate::rocrate::crate_file(row, &first, converts),
                root.clone(),
            )
        })
        .collect();
    files.dedup_by(|a, b| a.0.raw == b.0.raw);
    let crate_files: Vec<CrateFile> = files.iter().map(|(f, _)| f.clone()).collect();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let doc = build_rocrate(&CrateInput {
        pipeline: &pipeline.name,
        metadata: &pipeline.metadata,
        now: &now,
        files: &crate_files,
    });
    let json = serde_json::to_vec_pretty(&doc).map_err(|e| failed(&e))?;
    let folder = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "export".to_owned());
    let out = out.to_path_buf();
    let count = files.len();
    tokio::task::spawn_blocking(move || write_zip(&out, &folder, &json, &files))
        .await
        .map_err(|e| failed(&e))?
        .map_err(|e| failed(&e))?;
    Ok(count)
}

/// Writes the zip beside `out` and renames it into place, so a failed export leaves nothing.
fn write_zip(
    out: &Path,
    folder: &str,
    json: &[u8],
    files: &[(CrateFile, PathBuf)],
) -> Result<(), String> {
    let mut tmp_name = out.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".scopeflow-tmp");
    let tmp = out.with_file_name(tmp_name);
    let result = write_entries(&tmp, folder, json, files)
        .and_then(|()| std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display())));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_entries(
    tmp: &Path,
    folder: &str,
    json: &[u8],
    files: &[(CrateFile, PathBuf)],
) -> Result<(), String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", tmp.display());
    let file = File::create(tmp).map_err(|e| at(&e))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file)).set_auto_large_file();
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    zip.add_directory(format!("{folder}/"), options)
        .map_err(|e| at(&e))?;
    zip.start_file(format!("{folder}/{ROCRATE_FILE}"), options)
        .map_err(|e| at(&e))?;
    zip.write_all(json).map_err(|e| at(&e))?;
    for (f, root) in files {
        let mut rels = vec![f.raw.clone(), f.qc.clone()];
        rels.extend(f.zarr.clone());
        rels.extend(f.thumbnail.clone());
        for rel in rels {
            add_tree(&mut zip, options, root, &rel, folder)?;
        }
    }
    let inner = zip.finish().map_err(|e| at(&e))?;
    let file = inner.into_inner().map_err(|e| at(&e.into_error()))?;
    file.sync_all().map_err(|e| at(&e))
}

/// `root/rel` (a file, or a folder walked in name order) as `folder/rel…` in the zip.
fn add_tree(
    zip: &mut zip::ZipWriter<BufWriter<File>>,
    options: SimpleFileOptions,
    root: &Path,
    rel: &str,
    folder: &str,
) -> Result<(), String> {
    let path = root.join(rel);
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let meta = std::fs::metadata(&path).map_err(|e| at(&e))?;
    if meta.is_dir() {
        zip.add_directory(format!("{folder}/{rel}/"), options)
            .map_err(|e| at(&e))?;
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .map_err(|e| at(&e))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, io::Error>>()
            .map_err(|e| at(&e))?;
        names.sort();
        for name in names {
            add_tree(zip, options, root, &format!("{rel}/{name}"), folder)?;
        }
        return Ok(());
    }
    let large = meta.len() >= u64::from(u32::MAX);
    zip.start_file(format!("{folder}/{rel}"), options.large_file(large))
        .map_err(|e| at(&e))?;
    let mut src = File::open(&path).map_err(|e| at(&e))?;
    io::copy(&mut src, zip).map_err(|e| at(&e))?;
    Ok(())
}
