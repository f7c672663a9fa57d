//! The acquisition-PC agent.
//!
//! Invariants:
//! - a raw file is opened read-only and never modified, moved or renamed (only `protect_raw`
//!   removes its write permission once it is safely copied);
//! - a file is processed only once it is stable: size and mtime unchanged for `settle`, and
//!   readable;
//! - a state reaches the journal only after its effect is durable (work folder synced and
//!   renamed; copies published, read back and hashed by the destination), and every step is
//!   idempotent, so `kill -9` at any moment loses nothing and a restart redoes only the
//!   unfinished step;
//! - one bad file never blocks the others: its failure is recorded, retried with back-off and
//!   quarantined after `retry.max_attempts`; an unreachable or full destination is retried
//!   later without counting an attempt.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod alarms;
mod deliver;
mod describe;
mod early;
mod eln;
mod isolate;
mod job;
mod process;
mod progress;
mod report;
mod rocrate;
mod run;
mod scan;
mod schedule;
mod settle;
mod watch;

pub use eln::{ExportError, export_eln};
pub use process::modified_at;
pub use run::{AgentError, Summary, run};
/// The include rules and folder scan, shared with `scopeflow batch` so a backlog is planned
/// exactly as the agent would have picked its files.
pub use scan::{Filter, Seen, scan};
