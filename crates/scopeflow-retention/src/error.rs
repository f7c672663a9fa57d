use std::path::PathBuf;

/// Why a retention run could not run at all. Per-file problems are never errors: they are
/// "kept" decisions with their reason.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The pipeline cannot be acted on here (a destination kind this build lacks).
    #[error("{0}")]
    Config(String),
    /// The journal cannot be read or written: nothing may be deleted without it.
    #[error(transparent)]
    Journal(#[from] scopeflow_journal::JournalError),
    /// Another retention run holds the lock beside the journal.
    #[error("{}: another retention run is in progress", path.display())]
    Busy { path: PathBuf },
    /// A local file the robot needs (its lock, its audit file) cannot be written.
    #[error("{}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
}
