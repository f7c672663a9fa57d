//! Rows as the callers see them, and how they are read from SQLite (`sqlx::FromRow`; a value
//! this version never writes, such as an unknown state, is a decoding error naming the column).

use scopeflow_core::{CopyState, FileState};
use serde_json::{Value, json};
use sqlx::sqlite::{Sqlite, SqliteRow, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, FromRow, Type};

/// One version of one raw file. Timestamps are RFC 3339 UTC with milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, FromRow, serde::Deserialize)]
pub struct FileRow {
    pub id: i64,
    pub watch: String,
    pub rel: String,
    pub version: i64,
    #[sqlx(try_from = "i64")]
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: FileState,
    /// For `failed`/`quarantined` rows: the state the file was in when its step failed, so a
    /// retry (or an operator) knows which step it was.
    #[sqlx(try_from = "NullableState")]
    pub failed_from: Option<FileState>,
    pub error: Option<String>,
    /// Failures of this version so far; never reset, so a file that keeps failing at any step
    /// is quarantined after `max_attempts` instead of looping.
    #[sqlx(try_from = "i64")]
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub discovered_at: String,
    pub stable_at: Option<String>,
    pub processed_at: Option<String>,
    pub transferred_at: Option<String>,
    pub verified_at: Option<String>,
    pub purged_at: Option<String>,
    pub updated_at: String,
}

/// One file version's copy at one destination.
#[derive(Clone, Debug, PartialEq, Eq, FromRow, serde::Deserialize)]
pub struct CopyRow {
    pub file_id: i64,
    pub destination: String,
    #[sqlx(try_from = "String")]
    pub state: CopyState,
    pub sha256: Option<String>,
    pub transferred_at: Option<String>,
    pub verified_at: Option<String>,
    pub error: Option<String>,
    pub updated_at: String,
    /// Destination-relative path of the raw copy, once transferred.
    pub path: Option<String>,
}

/// A file version with its copies, for `scopeflow status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStatus {
    pub file: FileRow,
    /// The format `inspect` detected (`tiff`, `czi`, `imaris`…), once the file was processed.
    pub format: Option<String>,
    pub copies: Vec<CopyRow>,
}

/// An event waiting in (or sent from) the outbox. `payload` is JSON text.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct OutboxEvent {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl OutboxEvent {
    /// The event as the server's wire format has it. `Err` says why a row does not fit (a
    /// payload from an older build, or an unknown kind), so the sender can report and skip it.
    pub fn to_event(&self) -> Result<scopeflow_core::Event, String> {
        let payload: Value = serde_json::from_str(&self.payload).map_err(|e| e.to_string())?;
        let wire = json!({
            "id": self.id,
            "at": self.created_at,
            "file": payload.get("file").cloned().unwrap_or(Value::Null),
            "kind": self.kind,
            "data": payload.get("data").cloned().unwrap_or_else(|| json!({})),
        });
        serde_json::from_value(wire)
            .map_err(|e| format!("outbox event {} ({}): {e}", self.id, self.kind))
    }
}

impl FileStatus {
    /// The status object of the CLI contract (CLI.md: path, state, sha256, size, error, copies
    /// with destination and verified_at), plus keys that tell versions and retries apart.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.json_view()).unwrap_or(Value::Null)
    }

    /// [`FileStatus::to_json`] borrowed from the row, for writing out directly: building a
    /// `Value` per file was a third of `status --json`'s own time at 100,000 files.
    pub fn json_view(&self) -> StatusJson<'_> {
        let f = &self.file;
        StatusJson {
            path: &f.rel,
            state: f.state,
            sha256: f.sha256.as_deref(),
            size: f.size,
            error: f.error.as_deref(),
            copies: self
                .copies
                .iter()
                .map(|c| CopyJson {
                    destination: &c.destination,
                    verified_at: c.verified_at.as_deref(),
                    state: c.state,
                })
                .collect(),
            version: f.version,
            watch: &f.watch,
            attempts: f.attempts,
            next_attempt_at: f.next_attempt_at.as_deref(),
            format: self.format.as_deref(),
        }
    }
}

/// One file of `status --json`, keys in the order they are printed.
#[derive(serde::Serialize)]
pub struct StatusJson<'a> {
    path: &'a str,
    state: FileState,
    sha256: Option<&'a str>,
    size: u64,
    error: Option<&'a str>,
    copies: Vec<CopyJson<'a>>,
    version: i64,
    watch: &'a str,
    attempts: u32,
    next_attempt_at: Option<&'a str>,
    format: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct CopyJson<'a> {
    destination: &'a str,
    verified_at: Option<&'a str>,
    state: CopyState,
}

pub(crate) const FILE_COLUMNS: &str = "id, watch, rel, version, size, mtime_ns, sha256, state, \
    failed_from, error, attempts, next_attempt_at, discovered_at, stable_at, processed_at, \
    transferred_at, verified_at, purged_at, updated_at";

pub(crate) const COPY_COLUMNS: &str =
    "file_id, destination, state, sha256, transferred_at, verified_at, error, updated_at, path";

/// Decodes a `files` row; `Err` names the column holding a value this version never writes.
pub(crate) fn file_from_row(r: &SqliteRow) -> Result<FileRow, String> {
    FileRow::from_row(r).map_err(|e| e.to_string())
}

pub(crate) fn copy_from_row(r: &SqliteRow) -> Result<CopyRow, String> {
    CopyRow::from_row(r).map_err(|e| e.to_string())
}

pub(crate) fn outbox_from_row(r: &SqliteRow) -> Result<OutboxEvent, String> {
    OutboxEvent::from_row(r).map_err(|e| e.to_string())
}

/// A nullable state column (`failed_from`) as SQLite holds it, text or NULL, on its way to
/// `Option<FileState>`.
pub(crate) struct NullableState(Option<String>);

impl Type<Sqlite> for NullableState {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for NullableState {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        <Option<String> as Decode<'r, Sqlite>>::decode(value).map(NullableState)
    }
}

impl TryFrom<NullableState> for Option<FileState> {
    type Error = scopeflow_core::UnknownState;

    fn try_from(s: NullableState) -> Result<Self, Self::Error> {
        s.0.map(FileState::try_from).transpose()
    }
}
