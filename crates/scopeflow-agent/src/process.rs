//! The CPU side of a file's run: metadata, QC and conversion in one read of the raw file, into
//! a work folder that appears atomically (`<work>/<id>`), synced to disk before the journal
//! records `processed`.

use std::path::{Path, PathBuf};

use scopeflow_ngff::ConvertOptions;
use scopeflow_pipeline::{ConvertStep, Step};
use scopeflow_transfer::{Digest, KnownDigests};
use serde_json::json;

/// The thumbnail's name in the work folder (delivered as `qc/STEM.png`).
const THUMBNAIL: &str = "thumbnail.png";

/// Outputs of a processed file, waiting in the work folder to be delivered.
#[derive(Clone, Debug)]
pub struct Processed {
    pub dir: PathBuf,
    pub sha256: String,
    pub zarr: Option<PathBuf>,
    pub qc_json: PathBuf,
    /// `thumbnail.png`, written when the pipeline converts.
    pub thumbnail: Option<PathBuf>,
    /// The OME-Zarr's files as the converter wrote them (empty for a work folder found after a
    /// restart): destinations check their copies against these without reading the work
    /// folder again.
    pub zarr_known: KnownDigests,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The raw file itself is bad (corrupt, truncated): retry, then quarantine.
    #[error("{0}")]
    Input(String),
    /// The raw file is in a format or uses a feature this build cannot read: retrying cannot
    /// help, so it is quarantined at once.
    #[error("{0}")]
    Permanent(String),
    /// The raw file changed while it was read: it is not finished after all.
    #[error("{}: changed while it was being processed", .0.display())]
    Changed(PathBuf),
    /// Our side failed (work folder not writable, disk full): retry later.
    #[error("{0}")]
    Local(String),
}

impl Processed {
    /// The work folder of file `id`, if a previous run completed it.
    pub fn existing(work_root: &Path, id: i64, sha256: &str) -> Option<Processed> {
        let dir = work_root.join(id.to_string());
        let qc_json = dir.join("qc.json");
        let zarr = dir.join("image.ome.zarr");
        let thumbnail = dir.join(THUMBNAIL);
        qc_json.is_file().then(|| Processed {
            sha256: sha256.to_string(),
            zarr: zarr.is_dir().then_some(zarr),
            thumbnail: thumbnail.is_file().then_some(thumbnail),
            qc_json,
            dir,
            zarr_known: KnownDigests::new(),
        })
    }
}

fn options(step: &ConvertStep) -> ConvertOptions {
    ConvertOptions {
        ngff: step.ngff,
        chunk_yx: step.chunk_yx,
        shard_yx: step.shard_yx,
        codec: step.codec,
        level: step.level,
        levels: step.levels,
        overwrite: false,
        // Flushed right after converting, then copied and checked against what was written.
        record_digests: true,
        early_writeback: true,
    }
}

fn stat(path: &Path) -> Result<(u64, i64), ProcessError> {
    let m = std::fs::metadata(path)
        .map_err(|e| ProcessError::Input(format!("{}: {e}", path.display())))?;
    Ok((m.len(), crate::scan::mtime_ns(&m)))
}

/// A work folder written but not yet flushed: [`Converted::publish`] makes it durable and
/// gives it its final name. Two steps, so the cores can convert another file while this one
/// waits on the disk.
#[derive(Debug)]
pub struct Converted {
    tmp: PathBuf,
    final_dir: PathBuf,
    sha256: String,
    has_zarr: bool,
    written: scopeflow_ngff::FileDigests,
}

/// Runs the pipeline's steps on `raw` (blocking; conversion uses the rayon pool).
///
/// # Errors
/// See [`ProcessError`]; nothing is left in the work folder on failure.
pub fn process(
    raw: &Path,
    work_root: &Path,
    id: i64,
    steps: &[Step],
    described: serde_json::Map<String, serde_json::Value>,
) -> Result<Converted, ProcessError> {
    let before = stat(raw)?;
    std::fs::create_dir_all(work_root)
        .map_err(|e| ProcessError::Local(format!("{}: {e}", work_root.display())))?;
    let final_dir = work_root.join(id.to_string());
    let tmp = work_root.join(format!(".{id}.scopeflow-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp)
        .map_err(|e| ProcessError::Local(format!("{}: {e}", tmp.display())))?;
    let result = run_steps(raw, &tmp, steps, described);
    let (sha256, has_zarr, written) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if stat(raw)? != before {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(ProcessError::Changed(raw.to_path_buf()));
    }
    Ok(Converted {
        tmp,
        final_dir,
        sha256,
        has_zarr,
        written,
    })
}

impl Converted {
    /// Flushes the work folder and renames it to `<work>/<id>` (blocking).
    ///
    /// # Errors
    /// [`ProcessError::Local`]; the unflushed folder is removed.
    pub fn publish(self) -> Result<Processed, ProcessError> {
        let Converted {
            tmp,
            final_dir,
            sha256,
            has_zarr,
            written,
        } = self;
        let local = |e: std::io::Error| ProcessError::Local(format!("{}: {e}", tmp.display()));
        let flushed = scopeflow_ngff::sync_tree(&tmp)
            .map_err(local)
            .and_then(|()| {
                let _ = std::fs::remove_dir_all(&final_dir);
                std::fs::rename(&tmp, &final_dir).map_err(local)
            });
        if let Err(e) = flushed {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Ok(Processed {
            sha256,
            zarr: has_zarr.then(|| final_dir.join("image.ome.zarr")),
            thumbnail: Some(final_dir.join(THUMBNAIL)).filter(|p| p.is_file()),
            qc_json: final_dir.join("qc.json"),
            dir: final_dir,
            zarr_known: written
                .into_iter()
                .map(|(sub, (sha256, size))| (sub, (Digest(sha256), size)))
                .collect(),
        })
    }
}

/// `described`: the naming verdict and the metadata, added to the QC document.
fn run_steps(
    raw: &Path,
    tmp: &Path,
    steps: &[Step],
    described: serde_json::Map<String, serde_json::Value>,
) -> Result<(String, bool, scopeflow_ngff::FileDigests), ProcessError> {
    let src = scopeflow_formats::open(raw).map_err(|e| {
        if e.is_permanent() {
            ProcessError::Permanent(e.to_string())
        } else {
            ProcessError::Input(e.to_string())
        }
    })?;
    let inspect = src.meta().to_inspect_json();
    let convert = steps.iter().find_map(|s| match s {
        Step::Convert(c) => Some(c),
        _ => None,
    });
    // Every series is converted (a bioformats2raw-layout container when the file holds
    // several) and measured; the QC document keeps series 0's channels at the top.
    let (qc, sha256, written) = match convert {
        Some(step) => {
            let out = tmp.join("image.ome.zarr");
            let report = scopeflow_ngff::convert_file(
                raw,
                &out,
                &options(step),
                scopeflow_ngff::SeriesChoice::All,
                &|_| {},
            )
            .map_err(|e| {
                if e.is_usage() || matches!(e, scopeflow_ngff::ConvertError::Write { .. }) {
                    ProcessError::Local(e.to_string())
                } else if matches!(&e, scopeflow_ngff::ConvertError::Source(f) if f.is_permanent())
                {
                    ProcessError::Permanent(e.to_string())
                } else {
                    ProcessError::Input(e.to_string())
                }
            })?;
            if let Some(t) = report.thumbnail() {
                t.write_png(&tmp.join(THUMBNAIL))
                    .map_err(|e| ProcessError::Local(e.to_string()))?;
            }
            (report.qc_document(), report.sha256, report.written)
        }
        None => {
            let qc = if steps.iter().any(|s| matches!(s, Step::Qc)) {
                let series = scopeflow_ngff::measure_qc_file(raw, &|_| {})
                    .map_err(|e| ProcessError::Input(e.to_string()))?;
                scopeflow_ngff::qc_document(&series)
            } else {
                scopeflow_core::qc_document(&[])
            };
            let (sha, _) = scopeflow_ngff::sha256_file(raw)
                .map_err(|e| ProcessError::Input(format!("{}: {e}", raw.display())))?;
            (qc, sha, Default::default())
        }
    };
    let mut doc = json!({
        "inspect": inspect, "qc": qc, "sha256": sha256, "modified_at": modified_at(raw),
    });
    if let Some(map) = doc.as_object_mut() {
        map.extend(described);
    }
    let text = serde_json::to_vec_pretty(&doc).map_err(|e| ProcessError::Local(e.to_string()))?;
    std::fs::write(tmp.join("qc.json"), text)
        .map_err(|e| ProcessError::Local(format!("{}: {e}", tmp.display())))?;
    Ok((sha256, convert.is_some(), written))
}

/// The raw file's modification time (RFC 3339, UTC), in the QC document: the catalog shows it
/// when the file's own metadata has no acquisition time (many plain TIFFs), marked as such.
pub fn modified_at(raw: &Path) -> Option<String> {
    let t = std::fs::metadata(raw).and_then(|m| m.modified()).ok()?;
    Some(
        chrono::DateTime::<chrono::Utc>::from(t)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

/// Removes leftovers of interrupted runs (`.*.scopeflow-tmp-*`) from the work folder.
pub fn clean_work(work_root: &Path) {
    let Ok(entries) = std::fs::read_dir(work_root) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().contains(".scopeflow-tmp-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
