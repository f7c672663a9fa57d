//! The retention robot: frees space on an acquisition PC by deleting (or moving to a trash)
//! local raw files that are safely stored elsewhere.
//!
//! Invariants:
//! - only raw files the journal knows are touched, and only through the current version row
//!   of their path (an older `verified` version names the same local path as newer content);
//! - a file is purged only when, at purge time, it is older than `purge_after` (counted from
//!   ingest, the journal's `discovered_at`), every `require_verified` destination (and at
//!   least `min_copies` destinations) verify their copy again now through
//!   `Destination::verify`, and the local file still has the size, mtime and sha256 it had at
//!   ingest; anything else keeps the file, with the reason;
//! - a purge is one atomic file-system step between a durable intent and the journal update,
//!   so a killed run leaves each file either in place or gone, and the next run finishes the
//!   journal's side (see [`run`]);
//! - every decision of a run is audited in the journal and in [`AUDIT_FILE`].
//!
//! `plan` decides from the journal and a size/mtime look at each file only: no destination is
//! contacted and nothing is hashed or written, so it stays fast on 100,000 files; what it
//! lists under `purge` is re-verified by `run` before anything is deleted.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod assess;
mod audit;
mod checks;
mod error;
mod plan;
mod purge;
mod recover;
mod report;
mod run;
mod trash;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;

use scopeflow_journal::Journal;
use scopeflow_pipeline::Pipeline;

pub use audit::AUDIT_FILE;
pub use error::RetentionError;
pub use plan::{plan, plan_verified};
pub use report::{Decision, Report};
pub use run::run;

/// What both plan and run need: the journal (`None` if the agent never ran), where each
/// watch key lives, and the folder beside the journal.
pub(crate) struct Setup {
    pub journal: Option<Journal>,
    pub watches: HashMap<String, PathBuf>,
    pub state_dir: PathBuf,
}

impl Setup {
    pub async fn open(p: &Pipeline) -> Result<Setup, RetentionError> {
        // The agent's journal key for a watch entry is its configured folder as text.
        let watches = p
            .watch
            .iter()
            .map(|w| (w.path.to_string_lossy().into_owned(), w.path.clone()))
            .collect();
        let state_dir = p
            .state
            .parent()
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        // Never create a journal as a side effect: no journal means nothing was ingested.
        let journal = if p.state.exists() {
            Some(Journal::open(&p.state).await?)
        } else {
            None
        };
        Ok(Setup {
            journal,
            watches,
            state_dir,
        })
    }
}

/// The clock of a run: `--now` (RFC 3339, any offset) or the system clock. `Err` says what is
/// wrong with the text.
///
/// # Errors
/// `now` is not an RFC 3339 time.
pub fn parse_now(now: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match now {
        None => Ok(chrono::Utc::now()),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&chrono::Utc))
            .map_err(|e| {
                format!("--now {s:?}: not an RFC 3339 time ({e}); e.g. 2026-08-01T12:00:00Z")
            }),
    }
}
