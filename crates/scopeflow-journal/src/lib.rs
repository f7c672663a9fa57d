//! The agent's journal: one row per raw file version and per copy, in SQLite (WAL) through sqlx.
//!
//! Invariants the rest of scopeflow relies on:
//! - a state is written only after its effect is durable, and every state change is one
//!   `BEGIN IMMEDIATE` transaction; with `synchronous=FULL` a returned `Ok` survives a power cut;
//! - a file replaced with different content after it was processed is a new version row, never
//!   merged into the old one, whose outputs and copies belong to the old content;
//! - `verified` is reached only through [`Journal::refresh_state`] once every listed destination
//!   holds a copy whose read-back checksum equals the raw file's; the retention robot trusts it;
//! - transitions that would move a file backwards by mistake (processing a file that is being
//!   written again, purging an unverified one) are refused with [`JournalError::InvalidTransition`].
//!
//! Several processes may open the same journal (agent, `status`, retention robot): WAL lets
//! readers run beside the one writer and `busy_timeout` makes writers queue instead of failing.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod alarms;
mod copies;
mod crash;
mod described;
mod error;
mod files;
mod model;
mod observe;
mod open;
mod outbox;
mod retention;
mod retry;
mod status;
mod throughput;
mod time;

pub use alarms::{AlarmDelivery, NewAlarm};
pub use crash::Interrupted;
pub use described::DescribedCopy;
pub use error::JournalError;
pub use model::{CopyRow, FileRow, FileStatus, OutboxEvent, StatusJson};
pub use open::Journal;
pub use retention::{PurgeIntent, TrashEntry};
pub use scopeflow_core::{CopyState, FileState};
pub use status::StatusQuery;
pub use throughput::{Throughput, WINDOW_S};
