//! `batch resume`: the shards with a file not done, and not still held by Slurm, run again;
//! their records make them skip every finished file.

use std::path::Path;

use crate::plan::{Engine, Plan};
use crate::{BatchError, TaskSummary};

pub struct Resumed {
    pub tasks: Vec<usize>,
    /// Tasks Slurm still holds (pending or running): left alone, never run twice at once.
    pub busy: Vec<usize>,
    pub job: Option<String>,
    pub local: Option<TaskSummary>,
}

/// # Errors
/// The batch cannot be read; `sbatch` refused the new array.
pub fn resume(dir: &Path, exe: &Path) -> Result<Resumed, BatchError> {
    let plan = Plan::load(dir)?;
    // Lines a killed task published but did not merge yet.
    crate::manifest::merge(dir, &plan.to, plan.tasks)?;
    let st = crate::status(dir)?;
    let (mut tasks, mut busy) = (Vec::new(), Vec::new());
    for t in &st.tasks {
        if t.done == t.files {
            continue;
        }
        if crate::status::is_active(&t.state) {
            busy.push(t.task);
        } else {
            tasks.push(t.task);
        }
    }
    let mut out = Resumed {
        tasks,
        busy,
        job: None,
        local: None,
    };
    if out.tasks.is_empty() {
        return Ok(out);
    }
    match plan.engine {
        Engine::Slurm => out.job = Some(crate::slurm::submit(&plan, exe, &out.tasks)?.job),
        Engine::Local => out.local = Some(crate::submit::run_local(dir, &out.tasks)?),
    }
    Ok(out)
}
