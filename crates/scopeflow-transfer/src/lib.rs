//! Destinations: where scopeflow keeps its copies, and the proof that they are intact.
//!
//! Invariants every back-end keeps (and [`conformance`] checks):
//! - **All or nothing.** A put is written under a temporary name, flushed, read back and hashed,
//!   then published in one step. An observer, or the agent after a crash, sees the whole copy
//!   or nothing under the final name.
//! - **Read back, not assumed.** A [`Receipt`] carries the sha256 of the bytes read back from
//!   the destination; a copy that reads back wrong is never published.
//! - **Never overwrite, never delete.** A taken path is left alone (`Conflict`, or success if it
//!   already holds the same bytes, which makes a retried put safe). The only deletions are of
//!   this crate's own temporaries (`Destination::clean_temporaries`).
//! - **The manifest always checks.** `manifest-sha256.txt` at the root lists only published
//!   files, in `sha256sum` format, and a crash can never leave it failing `sha256sum -c` once
//!   repaired (which every `record` does first).
//!
//! Order for callers: `put` → (journal: transferred + receipt) → `record` → `verify` whenever a
//! fresh proof is needed (the retention robot, before a purge).

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod clock;
pub mod conformance;
mod destination;
mod digest;
mod error;
mod local;
mod rel_path;
pub mod remote;
mod sha256sum;

pub use destination::{Destination, KnownDigests, MANIFEST, Receipt, Verified, damaged_name};
pub use digest::{Digest, sha256_file};
pub use error::TransferError;
pub use local::LocalDestination;
pub use rel_path::RelPath;
