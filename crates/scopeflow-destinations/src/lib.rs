//! A pipeline's destinations, opened from its configuration, and where a raw file's outputs
//! go in each of them.
//!
//! Both the agent (which sends copies) and the retention robot (which re-verifies them before
//! a purge) need exactly this and nothing else of each other, so it lives here: the robot does
//! not pull in the agent's watcher, conversion or HTTP client.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod naming;
mod open;
mod rocrate;

pub use naming::{OutputNames, outputs, split_stem, stem_siblings, thumbnail_beside};
pub use open::{ConfigError, build, open};
pub use rocrate::{
    CrateFile, CrateInput, CrateWriter, ROCRATE_FILE, build as build_rocrate, crate_facts,
    encode_id,
};
