//! One array task: converts its shard's files one after the other, skipping those its records
//! already show done, so a resubmitted task redoes nothing finished.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::BatchError;
use crate::plan::Plan;
use crate::records::{self, Record, now};

/// How often a running task folds its part into the manifest (and at its end): often enough
/// for `sha256sum -c` to see progress, rarely enough that merges stay a small cost.
const MERGE_EVERY: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskSummary {
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// Runs task `task` of the batch in `dir`. `job`: Slurm's `JOBID_TASKID`, for the records.
///
/// # Errors
/// The plan, the shard or the records cannot be read or written. A file that fails to convert
/// is recorded and counted, not returned.
pub fn run_task(dir: &Path, task: usize, job: Option<String>) -> Result<TaskSummary, BatchError> {
    let plan = Plan::load(dir)?;
    let opts = plan
        .options
        .to_options()
        .map_err(|why| BatchError::Corrupt {
            path: dir.join("plan.json"),
            why,
        })?;
    let files = plan.shard(task)?;
    let past = records::read(dir, task)?;
    let done: HashSet<&str> = past
        .iter()
        .filter_map(|r| match r {
            Record::FileDone { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    let started: HashSet<&str> = past
        .iter()
        .filter_map(|r| match r {
            Record::FileStart { path, .. } => Some(path.as_str()),
            _ => None,
        })
        .collect();
    let mut log = records::Writer::open(dir, task)?;
    log.append(&Record::TaskStart {
        at: now(),
        host: gethostname::gethostname().into_string().ok(),
        pid: std::process::id(),
        job,
    })?;
    let mut summary = TaskSummary::default();
    let mut last_merge = Instant::now();
    for file in &files {
        if done.contains(file.path.as_str()) {
            summary.skipped += 1;
            continue;
        }
        log.append(&Record::FileStart {
            at: now(),
            path: file.path.clone(),
        })?;
        let t0 = Instant::now();
        let started_before = started.contains(file.path.as_str());
        match crate::output::convert(&plan.from, &plan.to, file, &opts, started_before)
            .and_then(|c| crate::manifest::append_part(dir, task, &c.entries).map(|()| c))
        {
            Ok(c) => {
                log.append(&Record::FileDone {
                    at: now(),
                    path: file.path.clone(),
                    sha256: c.sha256,
                    outputs: c.entries.len(),
                    seconds: t0.elapsed().as_secs_f64(),
                    adopted: c.adopted,
                })?;
                summary.done += 1;
            }
            Err(e) => {
                tracing::warn!(file = %file.path, error = %e, "conversion failed");
                log.append(&Record::FileFailed {
                    at: now(),
                    path: file.path.clone(),
                    error: e.to_string(),
                })?;
                summary.failed += 1;
            }
        }
        if last_merge.elapsed() >= MERGE_EVERY {
            crate::manifest::merge(dir, &plan.to, plan.tasks)?;
            last_merge = Instant::now();
        }
    }
    crate::manifest::merge(dir, &plan.to, plan.tasks)?;
    log.append(&Record::TaskEnd {
        at: now(),
        done: summary.done,
        failed: summary.failed,
        peak_rss_kib: records::peak_rss_kib(),
    })?;
    if let Some(server) = &plan.server
        && let Err(e) = crate::report::flush(&plan, server, &format!("task-{task}"))
    {
        // The login node's `batch status` sends what a compute node could not.
        tracing::warn!(server = %server.url, error = %e, "cannot report to the central server");
    }
    Ok(summary)
}
