//! Slurm through its commands (`sbatch`, `squeue`, `sacct`), as a user would type them: no
//! library binding to a Slurm version, and `SLURM_CONF` and the PATH pick the cluster.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::BatchError;
use crate::plan::{Plan, write_atomic};

/// One `sbatch --array` of this batch (the first submit, then each resume).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub job: String,
    pub tasks: Vec<usize>,
    pub at: String,
}

fn run(cmd: &mut Command) -> Result<std::process::Output, BatchError> {
    let name = format!("{:?}", cmd.get_program());
    cmd.output().map_err(|e| {
        BatchError::Slurm(format!(
            "{name}: {e} (is this a Slurm login node? the Slurm client commands must be on PATH)"
        ))
    })
}

/// `0-3`, or `1,3` for a resume: the task ids Slurm sees as `SLURM_ARRAY_TASK_ID`.
fn array_spec(tasks: &[usize]) -> String {
    let contiguous = tasks.windows(2).all(|w| w[1] == w[0] + 1);
    match (tasks.first(), tasks.last()) {
        (Some(a), Some(b)) if contiguous && tasks.len() > 1 => format!("{a}-{b}"),
        _ => tasks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// Submits `tasks` of `plan` as one job array running `exe batch task DIR $SLURM_ARRAY_TASK_ID`;
/// returns the job id and records the submission.
///
/// # Errors
/// `sbatch` is missing or refused the job (its message is kept).
pub fn submit(plan: &Plan, exe: &Path, tasks: &[usize]) -> Result<Submission, BatchError> {
    let dir = plan.dir();
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| BatchError::io(&dir, e))?;
    let script = dir.join("task.sh");
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    write_atomic(
        &script,
        format!(
            "#!/bin/sh\n# scopeflow batch {}: array task N converts shard N.\nexec {} batch task {} \"$SLURM_ARRAY_TASK_ID\"\n",
            plan.id,
            quote(exe),
            quote(&dir)
        )
        .as_bytes(),
    )?;
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--job-name=scopeflow-{}", plan.id))
        .arg(format!("--array={}", array_spec(tasks)))
        .arg(format!("--output={}", dir.join("logs/%A_%a.log").display()));
    if let Some(p) = &plan.partition {
        cmd.arg(format!("--partition={p}"));
    }
    cmd.args(&plan.sbatch_args).arg(&script);
    let out = run(&mut cmd)?;
    if !out.status.success() {
        return Err(BatchError::Slurm(format!(
            "sbatch refused the job array: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
    let text = String::from_utf8_lossy(&out.stdout);
    let job = text
        .trim()
        .split(';')
        .next()
        .filter(|j| !j.is_empty() && j.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| BatchError::Slurm(format!("sbatch printed no job id: {text:?}")))?
        .to_string();
    let sub = Submission {
        job,
        tasks: tasks.to_vec(),
        at: crate::records::now(),
    };
    let path = dir.join("jobs.jsonl");
    let mut line = serde_json::to_vec(&sub).expect("a submission serialises");
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&line).and_then(|()| f.sync_data()))
        .map_err(|e| BatchError::io(&path, e))?;
    Ok(sub)
}

/// Every submission of the batch, oldest first (none for the local engine).
///
/// # Errors
/// The file exists but cannot be read.
pub fn submissions(dir: &Path) -> Result<Vec<Submission>, BatchError> {
    let path = dir.join("jobs.jsonl");
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(BatchError::io(&path, e)),
    }
}

/// `JOB_TASK` → state, for the array tasks of `jobs` Slurm still holds (pending, running,
/// completing). A job Slurm forgot is simply absent.
pub fn queue_states(jobs: &[&str]) -> Result<HashMap<String, String>, BatchError> {
    let mut out = HashMap::new();
    if jobs.is_empty() {
        return Ok(out);
    }
    let o = run(Command::new("squeue").args(["-h", "-r", "-o", "%i|%T", "-j", &jobs.join(",")]))?;
    // squeue fails when none of the ids is known any more: that is an empty queue.
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        if let Some((id, state)) = line.trim().split_once('|') {
            out.insert(id.to_string(), state.to_string());
        }
    }
    Ok(out)
}

/// `JOB_TASK` → final state from accounting (`COMPLETED`, `CANCELLED`, `TIMEOUT`, `NODE_FAIL`,
/// …); empty when the cluster keeps no accounting.
pub fn accounting_states(jobs: &[&str]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if jobs.is_empty() {
        return out;
    }
    let Ok(o) = Command::new("sacct")
        .args(["-n", "-P", "-X", "-o", "JobID,State", "-j", &jobs.join(",")])
        .output()
    else {
        return out;
    };
    if !o.status.success() {
        return out;
    }
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        if let Some((id, state)) = line.trim().split_once('|') {
            // `CANCELLED by 0` → `CANCELLED`.
            let state = state.split_whitespace().next().unwrap_or_default();
            out.insert(id.to_string(), state.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[1, 3]), "1,3");
        assert_eq!(array_spec(&[2]), "2");
    }
}
