use std::path::PathBuf;
use std::sync::Arc;

/// Every variant names the journal file or the row, so a log line alone says what failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {}: cannot create its folder: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {}: cannot migrate its schema: {source}", path.display())]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    /// WAL could not be enabled, e.g. on a network file system; without it a reader would
    /// block the agent, and SQLite's locking is not safe there anyway.
    #[error("journal {}: journal_mode is {mode}, WAL could not be enabled (network file system?)", path.display())]
    NoWal { path: PathBuf, mode: String },
    /// SQLite failed (disk full, I/O error, locked for longer than `busy_timeout`, …).
    #[error("journal {}: {source}", path.display())]
    Db {
        path: Arc<PathBuf>,
        source: sqlx::Error,
    },
    #[error("journal: no file row with id {id}")]
    NotFound { id: i64 },
    /// The caller asked for a move the state machine does not allow, e.g. `processed` for a
    /// file that was reset to `discovered` because it is being written again.
    #[error("journal: file {id} ({rel}) is {from}, cannot {action}")]
    InvalidTransition {
        id: i64,
        rel: String,
        from: String,
        action: &'static str,
    },
    /// Processing found a different sha256 than an earlier run for the same size and mtime:
    /// the raw file changed in place, and its recorded checksum (which copies are checked
    /// against) must not silently change with it.
    #[error("journal: file {id} ({rel}) was hashed {expected} before and {found} now")]
    RawChanged {
        id: i64,
        rel: String,
        expected: String,
        found: String,
    },
    /// A copy's checksum differs from the raw file's: it must never count as verified.
    #[error(
        "journal: file {id} ({rel}) copy at {destination} has sha256 {found}, the raw file has {expected}"
    )]
    ChecksumMismatch {
        id: i64,
        rel: String,
        destination: String,
        expected: String,
        found: String,
    },
    #[error("journal: {what}: {value:?} is not valid")]
    InvalidArgument { what: &'static str, value: String },
    /// A stored value outside what this version writes (hand-edited or newer journal).
    #[error("journal {}: {what}", path.display())]
    Corrupt { path: Arc<PathBuf>, what: String },
}
