//! `scopeflow batch`: a backlog converted on a Slurm cluster as one job array (or locally with
//! rayon), into the agent's destination layout.
//!
//! Invariants:
//! - all state lives on the shared filesystem under `DEST/.scopeflow-batch/ID/` (no SQLite over
//!   NFS/Lustre): the plan and shards are written once before anything runs; each task appends
//!   to its own record file, and only one instance of a task runs at a time (resume skips a task
//!   Slurm still holds), so no file has two writers;
//! - a file is `done` only once its outputs are published under their final names, synced, and
//!   listed in the task's manifest part; a task killed at any moment leaves temporaries (hidden
//!   names) that the next run removes, never a half output under a final name;
//! - raw files are opened read-only and never modified.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod error;
mod manifest;
mod output;
mod plan;
mod records;
mod registry;
pub mod report;
mod resume;
mod slurm;
mod status;
mod submit;
mod task;

pub use error::BatchError;
pub use plan::{Engine, Plan, PlanOptions, PlannedFile, ServerRef};
pub use registry::locate;
pub use resume::{Resumed, resume};
pub use status::{FileStatus, Status, TaskStatus, status};
pub use submit::{Submission, SubmitRequest, submit};
pub use task::{TaskSummary, run_task};

/// The batch folders under a destination.
pub const BATCH_DIR: &str = ".scopeflow-batch";

/// What the login node does once a batch is idle: folds every task's manifest part into
/// DEST's manifest (a killed task may not have), and sends the central server whatever the
/// compute nodes could not. Returns the events sent, if the batch reports to a server.
///
/// # Errors
/// The plan or the manifest cannot be read or written; the server refused or is unreachable.
pub fn settle(dir: &std::path::Path) -> Result<Option<usize>, BatchError> {
    let plan = Plan::load(dir)?;
    manifest::merge(dir, &plan.to, plan.tasks)?;
    match &plan.server {
        Some(server) => report::flush(&plan, server, "login")
            .map(Some)
            .map_err(BatchError::File),
        None => Ok(None),
    }
}
