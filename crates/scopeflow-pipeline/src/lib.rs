//! Pipeline files (YAML): the model, its validation with line and column, duration parsing.
//!
//! Invariants:
//! - [`load`] and [`parse`] report every problem of a file at once, each at a 1-based line and
//!   column, in file order; a YAML syntax error alone stops the check early.
//! - A [`Pipeline`] is only returned when nothing was wrong, so its consumers need no checks
//!   of their own beyond what depends on the run (network, credentials).
//! - Checking reads no secret and touches no network: it only looks at whether the named
//!   folders and files exist.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod compile;
mod destination;
mod duration;
mod environment;
mod error;
mod fields;
mod metadata;
mod node;
mod pipeline;
mod qc_rules;
mod reader;
mod retention;
mod retry;
mod server;
mod steps;
mod validate;
mod values;
mod watch;

use std::path::{Path, PathBuf};

pub use destination::{DestinationConfig, DestinationKind};
pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, ConfigErrors};
pub use metadata::{Metadata, SIDECAR_FILE, load_sidecar, parse_sidecar};
pub use pipeline::{Pipeline, default_workers};
pub use qc_rules::{ChannelKey, EmailSettings, Limit, Notify, QcConfig, QcRules};
pub use retention::{Retention, RetentionMode};
pub use retry::Retry;
pub use scopeflow_core::{S3Settings, SftpSettings, SftpUrl};
pub use server::Server;
pub use steps::{ConvertStep, NamePattern, NamingMode, NamingProblem, NamingStep, Step};
pub use watch::{DEFAULT_INCLUDE, Watch};

/// Reads and checks the pipeline file at `path`. Relative paths inside it are resolved
/// against the file's folder made absolute, so the result does not depend on the working
/// folder the agent later runs in.
///
/// # Errors
/// Every problem found, including an unreadable file (reported at 1:1).
pub fn load(path: &Path) -> Result<Pipeline, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: path.to_path_buf(),
        errors: vec![ConfigError {
            line: 1,
            column: 1,
            message: format!("cannot read the pipeline file: {e}"),
        }],
    })?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base_dir = absolute
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    parse(&text, path, &base_dir)
}

/// Checks pipeline `text` as if read from `file` (named in errors and kept in
/// [`Pipeline::file`]), resolving relative paths against `base_dir`.
///
/// # Errors
/// Every problem found, in file order.
pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Pipeline, ConfigErrors> {
    compile::compile(text, file, base_dir).map_err(|errors| ConfigErrors {
        file: file.to_path_buf(),
        errors,
    })
}
