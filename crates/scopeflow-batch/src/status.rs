//! The state of a batch, merged from its plan, the tasks' records and Slurm's view of the
//! array (`squeue`, then `sacct` when the cluster keeps accounting, else the records alone).

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::BatchError;
use crate::plan::{Engine, Plan};
use crate::records::{self, Record};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileStatus {
    pub path: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: &'static str,
    pub error: Option<String>,
    pub task: usize,
    pub size: u64,
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStatus {
    pub task: usize,
    /// `JOB_TASK` of the latest submission holding this task (Slurm engine).
    pub job: Option<String>,
    /// Slurm's state (`PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`, `TIMEOUT`, …), or from
    /// the task's own records: `COMPLETED`, `INTERRUPTED` (started, never ended), `NOT_STARTED`.
    pub state: String,
    /// Where `state` comes from: `squeue`, `sacct` or `records`.
    pub source: &'static str,
    pub files: usize,
    pub done: usize,
    pub failed: usize,
    /// Peak resident memory of the task's last finished run (Linux), in MiB.
    pub peak_rss_mib: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    pub files: usize,
    pub pending: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    pub bytes: u64,
    pub bytes_done: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    pub batch: String,
    pub dest: std::path::PathBuf,
    pub engine: Engine,
    pub files: Vec<FileStatus>,
    pub tasks: Vec<TaskStatus>,
    pub totals: Totals,
    /// Raw megabytes (10^6) converted per second, from the first task start to the last file done.
    pub throughput_mb_s: Option<f64>,
}

impl Status {
    /// A task Slurm still holds (or a local run still alive): `--wait` waits for these.
    pub fn active(&self) -> bool {
        self.tasks.iter().any(|t| is_active(&t.state))
    }
}

pub(crate) fn is_active(state: &str) -> bool {
    !matches!(
        state,
        "COMPLETED"
            | "CANCELLED"
            | "FAILED"
            | "TIMEOUT"
            | "NODE_FAIL"
            | "OUT_OF_MEMORY"
            | "PREEMPTED"
            | "BOOT_FAIL"
            | "DEADLINE"
            | "INTERRUPTED"
            | "NOT_STARTED"
    )
}

/// A local run's process is alive (Linux); elsewhere a local run is seen only by its records.
fn alive(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new(&format!("/proc/{pid}")).exists()
}

/// What the records alone say of a task's last run.
fn from_records(recs: &[Record], engine: Engine) -> String {
    let last_start = recs
        .iter()
        .rposition(|r| matches!(r, Record::TaskStart { .. }));
    match last_start {
        None => "NOT_STARTED".into(),
        Some(i)
            if recs[i..]
                .iter()
                .any(|r| matches!(r, Record::TaskEnd { .. })) =>
        {
            "COMPLETED".into()
        }
        Some(i) => match &recs[i] {
            Record::TaskStart { pid, host, .. }
                if engine == Engine::Local
                    && host.as_deref() == gethostname::gethostname().to_str()
                    && alive(*pid) =>
            {
                "RUNNING".into()
            }
            _ => "INTERRUPTED".into(),
        },
    }
}

fn seconds(at: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
}

/// # Errors
/// The plan or a record file cannot be read; `squeue` cannot be run for a Slurm batch.
pub fn status(dir: &Path) -> Result<Status, BatchError> {
    let plan = Plan::load(dir)?;
    let mut job_of: HashMap<usize, String> = HashMap::new();
    for s in crate::slurm::submissions(dir)? {
        for t in s.tasks {
            job_of.insert(t, s.job.clone());
        }
    }
    let (queue, acct) = if plan.engine == Engine::Slurm {
        let mut jobs: Vec<&str> = job_of.values().map(String::as_str).collect();
        jobs.sort_unstable();
        jobs.dedup();
        (
            crate::slurm::queue_states(&jobs)?,
            crate::slurm::accounting_states(&jobs),
        )
    } else {
        Default::default()
    };
    let mut files = Vec::new();
    let mut tasks = Vec::new();
    let (mut first_start, mut last_done) = (f64::INFINITY, f64::NEG_INFINITY);
    for t in 0..plan.tasks {
        let recs = records::read(dir, t)?;
        let job = job_of.get(&t).map(|j| format!("{j}_{t}"));
        let (state, source) = match job
            .as_ref()
            .and_then(|j| queue.get(j).or_else(|| acct.get(j)).map(|s| (j, s)))
        {
            Some((j, s)) if queue.contains_key(j) => (s.clone(), "squeue"),
            Some((_, s)) => (s.clone(), "sacct"),
            None => (from_records(&recs, plan.engine), "records"),
        };
        let running = is_active(&state);
        // Per path: the last thing that happened to it; a `done` is final.
        let mut last: HashMap<&str, &Record> = HashMap::new();
        let mut peak_rss = None;
        for r in &recs {
            match r {
                Record::TaskStart { at, .. } => {
                    first_start = first_start.min(seconds(at).unwrap_or(f64::INFINITY));
                }
                Record::FileStart { path, .. } | Record::FileFailed { path, .. } => {
                    if !matches!(last.get(path.as_str()), Some(Record::FileDone { .. })) {
                        last.insert(path, r);
                    }
                }
                Record::FileDone { path, at, .. } => {
                    last_done = last_done.max(seconds(at).unwrap_or(f64::NEG_INFINITY));
                    last.insert(path, r);
                }
                Record::TaskEnd { peak_rss_kib, .. } => {
                    peak_rss = peak_rss_kib.map(|k| k as f64 / 1024.0).or(peak_rss);
                }
            }
        }
        let shard = plan.shard(t)?;
        let mut ts = TaskStatus {
            task: t,
            job,
            state: state.clone(),
            source,
            files: shard.len(),
            done: 0,
            failed: 0,
            peak_rss_mib: peak_rss,
        };
        for f in shard {
            let (st, error, sha256) = match last.get(f.path.as_str()) {
                None => ("pending", None, None),
                Some(Record::FileDone { sha256, .. }) => ("done", None, Some(sha256.clone())),
                Some(Record::FileFailed { error, .. }) => ("failed", Some(error.clone()), None),
                Some(_) if running => ("running", None, None),
                Some(_) => (
                    "failed",
                    Some(format!(
                        "interrupted: task {t} ended ({state}) while converting it; `scopeflow batch resume {}` converts it again",
                        plan.id
                    )),
                    None,
                ),
            };
            ts.done += usize::from(st == "done");
            ts.failed += usize::from(st == "failed");
            files.push(FileStatus {
                path: f.path,
                state: st,
                error,
                task: t,
                size: f.size,
                sha256,
            });
        }
        tasks.push(ts);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let count = |s: &str| files.iter().filter(|f| f.state == s).count();
    let bytes_done = files
        .iter()
        .filter(|f| f.state == "done")
        .map(|f| f.size)
        .sum::<u64>();
    let totals = Totals {
        files: files.len(),
        pending: count("pending"),
        running: count("running"),
        done: count("done"),
        failed: count("failed"),
        bytes: files.iter().map(|f| f.size).sum(),
        bytes_done,
    };
    let span = last_done - first_start;
    Ok(Status {
        batch: plan.id.clone(),
        dest: plan.to.clone(),
        engine: plan.engine,
        files,
        tasks,
        totals,
        throughput_mb_s: (span.is_finite() && span > 0.0).then(|| bytes_done as f64 / 1e6 / span),
    })
}
