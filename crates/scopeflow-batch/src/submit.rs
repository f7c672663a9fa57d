//! `batch submit`: plan, shard, then one Slurm job array (or the same tasks with rayon here).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use scopeflow_ngff::ConvertOptions;

use crate::plan::{self, Engine, Plan, PlanOptions, ServerRef};
use crate::{BatchError, TaskSummary};

pub struct SubmitRequest {
    pub from: PathBuf,
    pub to: PathBuf,
    pub engine: Engine,
    /// Default: 100 array tasks at most under Slurm, one per core locally.
    pub tasks: Option<usize>,
    pub partition: Option<String>,
    pub sbatch_args: Vec<String>,
    pub include: Vec<String>,
    pub options: ConvertOptions,
    pub server: Option<ServerRef>,
    /// The `scopeflow` binary the nodes run (the shared filesystem's copy).
    pub exe: PathBuf,
}

pub struct Submission {
    pub plan: Plan,
    pub job: Option<String>,
    /// The local engine's outcome, summed over tasks.
    pub local: Option<TaskSummary>,
}

fn new_id() -> String {
    let now = chrono::Utc::now();
    let salt = u64::from(std::process::id()) ^ u64::from(now.timestamp_subsec_nanos());
    format!("{}-{:04x}", now.format("%Y%m%d-%H%M%S"), salt & 0xffff)
}

fn absolute(path: &Path, what: &str) -> Result<PathBuf, BatchError> {
    path.canonicalize()
        .map_err(|e| BatchError::Usage(format!("{what} {}: {e}", path.display())))
}

/// # Errors
/// Usage: `--from` missing or holding no image, `--to` not creatable. Slurm: `sbatch` refused.
pub fn submit(req: SubmitRequest) -> Result<Submission, BatchError> {
    let from = absolute(&req.from, "--from")?;
    std::fs::create_dir_all(&req.to).map_err(|e| BatchError::io(&req.to, e))?;
    let to = absolute(&req.to, "--to")?;
    if to.starts_with(&from) {
        return Err(BatchError::Usage(format!(
            "--to {} is inside --from {}: outputs would be planned as inputs next time",
            to.display(),
            from.display()
        )));
    }
    let images = plan::list_images(&from, &req.include)?;
    if images.is_empty() {
        return Err(BatchError::Usage(format!(
            "--from {}: no image to convert{}",
            from.display(),
            if req.include.is_empty() {
                ""
            } else {
                " matches --include"
            }
        )));
    }
    let tasks = req.tasks.unwrap_or(match req.engine {
        Engine::Slurm => 100,
        Engine::Local => rayon::current_num_threads(),
    });
    if tasks == 0 {
        return Err(BatchError::Usage("--tasks must be at least 1".into()));
    }
    let files = plan::shard(images, tasks);
    let tasks = files.iter().map(|f| f.task + 1).max().unwrap_or(1);
    let plan = Plan {
        id: new_id(),
        from,
        to,
        created_at: crate::records::now(),
        engine: req.engine,
        tasks,
        files: files.len(),
        bytes: files.iter().map(|f| f.size).sum(),
        options: PlanOptions::from_options(&req.options),
        partition: req.partition,
        sbatch_args: req.sbatch_args,
        server: req.server,
    };
    plan.save(&files)?;
    drop(files);
    crate::registry::remember(&plan.id, &plan.dir());
    let all: Vec<usize> = (0..tasks).collect();
    match plan.engine {
        Engine::Slurm => {
            let sub = crate::slurm::submit(&plan, &req.exe, &all)?;
            Ok(Submission {
                plan,
                job: Some(sub.job),
                local: None,
            })
        }
        Engine::Local => {
            let summary = run_local(&plan.dir(), &all)?;
            Ok(Submission {
                plan,
                job: None,
                local: Some(summary),
            })
        }
    }
}

/// The local engine: the tasks in parallel on rayon's pool (conversion shares the same pool).
pub(crate) fn run_local(dir: &Path, tasks: &[usize]) -> Result<TaskSummary, BatchError> {
    let results: Vec<Result<TaskSummary, BatchError>> = tasks
        .par_iter()
        .map(|&t| crate::run_task(dir, t, None))
        .collect();
    let mut total = TaskSummary::default();
    for r in results {
        let s = r?;
        total.done += s.done;
        total.skipped += s.skipped;
        total.failed += s.failed;
    }
    Ok(total)
}
