//! Per-task append-only records (`tasks/T.jsonl`): what each run of a task started, finished
//! and failed. One writer per file (a task runs once at a time), so plain appends suffice; a
//! line torn by a kill is skipped on reading and cut off before the next append.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::BatchError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Record {
    TaskStart {
        at: String,
        host: Option<String>,
        pid: u32,
        /// `JOB_TASK` under Slurm.
        job: Option<String>,
    },
    FileStart {
        at: String,
        path: String,
    },
    FileDone {
        at: String,
        path: String,
        sha256: String,
        /// Output files listed in the manifest part.
        outputs: usize,
        seconds: f64,
        /// Outputs found complete from an earlier run (hashed, not converted again).
        #[serde(default)]
        adopted: bool,
    },
    FileFailed {
        at: String,
        path: String,
        error: String,
    },
    TaskEnd {
        at: String,
        done: usize,
        failed: usize,
        /// The task process's peak resident memory (Linux `VmHWM`), for sizing `--mem`.
        #[serde(default)]
        peak_rss_kib: Option<u64>,
    },
}

/// This process's peak resident set size so far, in KiB (Linux only).
pub fn peak_rss_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub fn records_path(dir: &Path, task: usize) -> PathBuf {
    dir.join("tasks").join(format!("{task}.jsonl"))
}

/// Every whole record of task `task` (none if it never ran).
///
/// # Errors
/// The file exists but cannot be read.
pub fn read(dir: &Path, task: usize) -> Result<Vec<Record>, BatchError> {
    let path = records_path(dir, task);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BatchError::io(&path, e)),
    };
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| BatchError::io(&path, e))?;
        // A torn last line (killed mid-write) is not a record.
        if let Ok(r) = serde_json::from_str::<Record>(&line) {
            out.push(r);
        }
    }
    Ok(out)
}

pub struct Writer {
    path: PathBuf,
    file: std::fs::File,
}

impl Writer {
    /// Opens task `task`'s records for appending, cutting a torn last line first.
    ///
    /// # Errors
    /// The batch folder is not writable.
    pub fn open(dir: &Path, task: usize) -> Result<Writer, BatchError> {
        let path = records_path(dir, task);
        let io = |e| BatchError::io(&path, e);
        std::fs::create_dir_all(dir.join("tasks")).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1)).map_err(io)?;
            file.read_exact(&mut last).map_err(io)?;
            if last[0] != b'\n' {
                let mut text = Vec::new();
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.read_to_end(&mut text).map_err(io)?;
                let keep = scopeflow_transfer::remote::whole_lines_len(&text);
                file.set_len(keep as u64).map_err(io)?;
            }
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(Writer { path, file })
    }

    /// Appends one record and syncs it: once this returns, the record survives a node crash.
    ///
    /// # Errors
    /// The write or the sync failed.
    pub fn append(&mut self, record: &Record) -> Result<(), BatchError> {
        let mut line = serde_json::to_vec(record).expect("a record serialises");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| BatchError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_is_skipped_and_cut_before_the_next_append() {
        let d = tempfile::tempdir().unwrap();
        let mut w = Writer::open(d.path(), 0).unwrap();
        let start = Record::FileStart {
            at: now(),
            path: "a.tif".into(),
        };
        w.append(&start).unwrap();
        drop(w);
        let path = records_path(d.path(), 0);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"event":"file_done","at":"#).unwrap();
        drop(f);
        assert_eq!(read(d.path(), 0).unwrap(), vec![start.clone()]);
        let failed = Record::FileFailed {
            at: now(),
            path: "a.tif".into(),
            error: "x".into(),
        };
        Writer::open(d.path(), 0).unwrap().append(&failed).unwrap();
        assert_eq!(read(d.path(), 0).unwrap(), vec![start, failed]);
    }
}
