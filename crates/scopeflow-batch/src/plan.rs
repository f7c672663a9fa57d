//! The plan of a batch: every image under `--from`, where its outputs go, and which shard (array
//! task) converts it. Written once at submit; a task reads only its own shard, so memory stays
//! bounded by the largest shard, not by the archive.

use std::collections::{BinaryHeap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use scopeflow_formats::Format;
use scopeflow_ngff::{Codec, ConvertOptions, Levels, NgffVersion};
use serde::{Deserialize, Serialize};

use crate::BatchError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Slurm,
    Local,
}

/// The conversion options, as the flags of `scopeflow convert` name them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub ngff: String,
    pub chunk_yx: usize,
    pub shard_yx: Option<usize>,
    pub codec: String,
    pub level: Option<i32>,
    /// `None` = auto.
    pub levels: Option<usize>,
}

impl PlanOptions {
    pub fn from_options(o: &ConvertOptions) -> PlanOptions {
        PlanOptions {
            ngff: o.ngff.to_string(),
            chunk_yx: o.chunk_yx,
            shard_yx: o.shard_yx,
            codec: o.codec.to_string(),
            level: o.level,
            levels: match o.levels {
                Levels::Auto => None,
                Levels::Count(n) => Some(n),
            },
        }
    }

    /// # Errors
    /// A plan edited by hand with a name no version knows.
    pub fn to_options(&self) -> Result<ConvertOptions, String> {
        let o = ConvertOptions {
            ngff: self.ngff.parse::<NgffVersion>()?,
            chunk_yx: self.chunk_yx,
            shard_yx: self.shard_yx,
            codec: self.codec.parse::<Codec>()?,
            level: self.level,
            levels: self.levels.map_or(Levels::Auto, Levels::Count),
            overwrite: false,
            record_digests: false,
            early_writeback: false,
        };
        o.validate()?;
        Ok(o)
    }
}

/// Where a task reports its files (an agent token of the central server).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRef {
    pub url: String,
    pub token_file: PathBuf,
    pub agent: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    /// Absolute, as the nodes see it (the shared filesystem).
    pub from: PathBuf,
    pub to: PathBuf,
    pub created_at: String,
    pub engine: Engine,
    pub tasks: usize,
    pub files: usize,
    pub bytes: u64,
    pub options: PlanOptions,
    #[serde(default)]
    pub partition: Option<String>,
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    #[serde(default)]
    pub server: Option<ServerRef>,
}

/// One raw file and its outputs (paths relative to `from` and to `to`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFile {
    pub path: String,
    pub size: u64,
    pub task: usize,
    pub zarr: String,
    pub qc: String,
}

/// Formats scopeflow converts; anything else under `--from` is left out of the plan unless an
/// `--include` glob names it (it then fails, saying why).
fn readable(f: Format) -> bool {
    matches!(
        f,
        Format::Tiff { .. } | Format::Hdf5 | Format::Czi | Format::Lif | Format::Nd2
    )
}

/// Every image under `from`: with `include` globs, what they match (the agent's rules); without,
/// every file whose first bytes say a format scopeflow reads.
///
/// # Errors
/// `from` cannot be listed, or a glob does not parse.
pub fn list_images(from: &Path, include: &[String]) -> Result<Vec<(String, u64)>, BatchError> {
    let globs: Vec<String> = if include.is_empty() {
        vec!["**".into()]
    } else {
        include.to_vec()
    };
    let filter = scopeflow_agent::Filter::new(&globs, &[])
        .map_err(|e| BatchError::Usage(format!("--include: {e}")))?;
    let seen = scopeflow_agent::scan(from, &filter).map_err(|e| BatchError::io(from, e))?;
    Ok(seen
        .into_iter()
        .filter(|s| !include.is_empty() || scopeflow_formats::detect(&s.path).is_ok_and(readable))
        .map(|s| (s.rel, s.size))
        .collect())
}

/// Assigns files to at most `tasks` shards of nearly equal bytes (largest first, each to the
/// lightest shard), then names outputs as the agent does. Shards are numbered densely from 0.
pub fn shard(files: Vec<(String, u64)>, tasks: usize) -> Vec<PlannedFile> {
    let n = tasks.clamp(1, files.len().max(1));
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| files[b].1.cmp(&files[a].1).then(a.cmp(&b)));
    let mut heap: BinaryHeap<std::cmp::Reverse<(u64, usize)>> =
        (0..n).map(|t| std::cmp::Reverse((0, t))).collect();
    let mut task_of = vec![0; files.len()];
    for i in order {
        let std::cmp::Reverse((bytes, t)) = heap.pop().expect("n >= 1 shards");
        task_of[i] = t;
        heap.push(std::cmp::Reverse((bytes + files[i].1, t)));
    }
    // The first file (in path order) of a stem keeps the plain name, as in the agent's journal.
    let mut stems = HashSet::new();
    files
        .into_iter()
        .zip(task_of)
        .map(|((path, size), task)| {
            let (stem, _) = scopeflow_destinations::split_stem(&path);
            let shares = !stems.insert(stem.to_string());
            let names = scopeflow_destinations::outputs(&path, 1, shares);
            PlannedFile {
                path,
                size,
                task,
                zarr: names.zarr,
                qc: names.qc,
            }
        })
        .collect()
}

pub fn batch_dir(to: &Path, id: &str) -> PathBuf {
    to.join(crate::BATCH_DIR).join(id)
}

fn shard_path(dir: &Path, task: usize) -> PathBuf {
    dir.join("shards").join(format!("{task}.jsonl"))
}

impl Plan {
    pub fn dir(&self) -> PathBuf {
        batch_dir(&self.to, &self.id)
    }

    /// Writes `plan.json` and one shard file per task, each atomically.
    ///
    /// # Errors
    /// The batch folder is not writable.
    pub fn save(&self, files: &[PlannedFile]) -> Result<(), BatchError> {
        let dir = self.dir();
        std::fs::create_dir_all(dir.join("shards")).map_err(|e| BatchError::io(&dir, e))?;
        for t in 0..self.tasks {
            let mut text = Vec::new();
            for f in files.iter().filter(|f| f.task == t) {
                serde_json::to_writer(&mut text, f).expect("a planned file serialises");
                text.push(b'\n');
            }
            write_atomic(&shard_path(&dir, t), &text)?;
        }
        let text = serde_json::to_vec_pretty(self).expect("a plan serialises");
        write_atomic(&dir.join("plan.json"), &text)
    }

    /// # Errors
    /// No plan there, or one that does not parse.
    pub fn load(dir: &Path) -> Result<Plan, BatchError> {
        let path = dir.join("plan.json");
        let text = std::fs::read(&path).map_err(|e| BatchError::io(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| BatchError::Corrupt {
            path,
            why: e.to_string(),
        })
    }

    /// The files of shard `task`, in path order.
    ///
    /// # Errors
    /// The shard file is missing or a line does not parse.
    pub fn shard(&self, task: usize) -> Result<Vec<PlannedFile>, BatchError> {
        if task >= self.tasks {
            return Err(BatchError::Usage(format!(
                "batch {}: no task {task} (tasks 0-{})",
                self.id,
                self.tasks.saturating_sub(1)
            )));
        }
        let path = shard_path(&self.dir(), task);
        let file = std::fs::File::open(&path).map_err(|e| BatchError::io(&path, e))?;
        let mut out = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| BatchError::io(&path, e))?;
            out.push(
                serde_json::from_str(&line).map_err(|e| BatchError::Corrupt {
                    path: path.clone(),
                    why: format!("line {}: {e}", i + 1),
                })?,
            );
        }
        Ok(out)
    }
}

/// Writes `path` under a hidden temporary name, syncs it, renames it into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BatchError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}{}{}",
        scopeflow_transfer::remote::TEMP_MARKER,
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        BatchError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_balance_bytes_and_keep_every_file_once() {
        let files: Vec<(String, u64)> = [90, 10, 40, 50, 30, 20, 60]
            .iter()
            .enumerate()
            .map(|(i, &s)| (format!("d/f{i}.tif"), s))
            .collect();
        let planned = shard(files, 3);
        let mut bytes = [0u64; 3];
        for f in &planned {
            bytes[f.task] += f.size;
        }
        // Largest first, each to the lightest shard: 90+20 | 60+30+10 | 50+40.
        assert_eq!(bytes, [110, 100, 90]);
        assert_eq!(planned.len(), 7);
        assert_eq!(planned[0].zarr, "ome-zarr/d/f0.ome.zarr");
        assert_eq!(planned[0].qc, "qc/d/f0.json");
    }

    #[test]
    fn no_more_shards_than_files_and_shared_stems_keep_their_extension() {
        let planned = shard(vec![("x.ome.tif".into(), 5), ("x.tif".into(), 5)], 8);
        assert!(planned.iter().all(|f| f.task < 2));
        assert_eq!(planned[0].zarr, "ome-zarr/x.ome.zarr");
        assert_eq!(planned[1].zarr, "ome-zarr/x~tif.ome.zarr");
    }
}
