//! What a pipeline check reports. A separate type from any run-time error (STYLE 7): a bad
//! pipeline file is the operator's to fix before anything runs, so it is never retried.

use std::fmt;
use std::path::PathBuf;

/// One problem, at the place in the YAML file to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based. Problems with the whole file (unreadable, empty) point at 1:1 so that every
    /// line of the report has the same `FILE:LINE:COL:` shape.
    pub line: usize,
    /// 1-based, counted in characters.
    pub column: usize,
    pub message: String,
}

/// Every problem found in one pipeline file, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    /// The file as the caller named it, so the report points where the operator looked.
    pub file: PathBuf,
    pub errors: Vec<ConfigError>,
}

/// One `FILE:LINE:COL: message` line per problem, each ending with a newline so the report
/// can be printed as it is.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                e.line,
                e.column,
                e.message
            )?;
        }
        Ok(())
    }
}
