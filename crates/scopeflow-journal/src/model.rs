//! Rows as the callers see them, and how they are read from SQLite.

use serde_json::{Value, json};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// File states, as stored and as printed by `scopeflow status` (CLI.md).
pub mod state {
    pub const DISCOVERED: &str = "discovered";
    pub const STABLE: &str = "stable";
    pub const PROCESSED: &str = "processed";
    pub const TRANSFERRED: &str = "transferred";
    pub const VERIFIED: &str = "verified";
    pub const PURGED: &str = "purged";
    pub const FAILED: &str = "failed";
    pub const QUARANTINED: &str = "quarantined";
    /// Every state, in the order a file moves through them (the two off-path states last).
    pub const ALL: [&str; 8] = [
        DISCOVERED,
        STABLE,
        PROCESSED,
        TRANSFERRED,
        VERIFIED,
        PURGED,
        FAILED,
        QUARANTINED,
    ];
}

/// Copy states: `invalid` means a check found the copy bad and it must be sent again.
pub mod copy_state {
    pub const PENDING: &str = "pending";
    pub const TRANSFERRED: &str = "transferred";
    pub const VERIFIED: &str = "verified";
    pub const INVALID: &str = "invalid";
}

/// One version of one raw file. Timestamps are RFC 3339 UTC with milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    pub id: i64,
    pub watch: String,
    pub rel: String,
    pub version: i64,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: Option<String>,
    pub state: String,
    /// For `failed`/`quarantined` rows: the state the file was in when its step failed, so a
    /// retry (or an operator) knows which step it was.
    pub failed_from: Option<String>,
    pub error: Option<String>,
    /// Failures of this version so far; never reset, so a file that keeps failing at any step
    /// is quarantined after `max_attempts` instead of looping.
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRow {
    pub file_id: i64,
    pub destination: String,
    pub state: String,
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
    pub copies: Vec<CopyRow>,
}

/// An event waiting in (or sent from) the outbox. `payload` is JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
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
        let f = &self.file;
        let copies: Vec<Value> = self
            .copies
            .iter()
            .map(|c| {
                json!({
                    "destination": c.destination,
                    "verified_at": c.verified_at,
                    "state": c.state,
                })
            })
            .collect();
        json!({
            "path": f.rel,
            "state": f.state,
            "sha256": f.sha256,
            "size": f.size,
            "error": f.error,
            "copies": copies,
            "version": f.version,
            "watch": f.watch,
            "attempts": f.attempts,
            "next_attempt_at": f.next_attempt_at,
        })
    }
}

pub(crate) const FILE_COLUMNS: &str = "id, watch, rel, version, size, mtime_ns, sha256, state, \
    failed_from, error, attempts, next_attempt_at, discovered_at, stable_at, processed_at, \
    transferred_at, verified_at, purged_at, updated_at";

pub(crate) const COPY_COLUMNS: &str =
    "file_id, destination, state, sha256, transferred_at, verified_at, error, updated_at, path";

/// Decodes a `files` row; `Err` names the column holding a value this version never writes.
pub(crate) fn file_from_row(r: &SqliteRow) -> Result<FileRow, String> {
    let get = |e: sqlx::Error| e.to_string();
    let size: i64 = r.try_get("size").map_err(get)?;
    let attempts: i64 = r.try_get("attempts").map_err(get)?;
    Ok(FileRow {
        id: r.try_get("id").map_err(get)?,
        watch: r.try_get("watch").map_err(get)?,
        rel: r.try_get("rel").map_err(get)?,
        version: r.try_get("version").map_err(get)?,
        size: u64::try_from(size).map_err(|_| format!("files.size {size} is negative"))?,
        mtime_ns: r.try_get("mtime_ns").map_err(get)?,
        sha256: r.try_get("sha256").map_err(get)?,
        state: r.try_get("state").map_err(get)?,
        failed_from: r.try_get("failed_from").map_err(get)?,
        error: r.try_get("error").map_err(get)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| format!("files.attempts {attempts} is out of range"))?,
        next_attempt_at: r.try_get("next_attempt_at").map_err(get)?,
        discovered_at: r.try_get("discovered_at").map_err(get)?,
        stable_at: r.try_get("stable_at").map_err(get)?,
        processed_at: r.try_get("processed_at").map_err(get)?,
        transferred_at: r.try_get("transferred_at").map_err(get)?,
        verified_at: r.try_get("verified_at").map_err(get)?,
        purged_at: r.try_get("purged_at").map_err(get)?,
        updated_at: r.try_get("updated_at").map_err(get)?,
    })
}

pub(crate) fn copy_from_row(r: &SqliteRow) -> Result<CopyRow, String> {
    let get = |e: sqlx::Error| e.to_string();
    Ok(CopyRow {
        file_id: r.try_get("file_id").map_err(get)?,
        destination: r.try_get("destination").map_err(get)?,
        state: r.try_get("state").map_err(get)?,
        sha256: r.try_get("sha256").map_err(get)?,
        transferred_at: r.try_get("transferred_at").map_err(get)?,
        verified_at: r.try_get("verified_at").map_err(get)?,
        error: r.try_get("error").map_err(get)?,
        updated_at: r.try_get("updated_at").map_err(get)?,
        path: r.try_get("path").map_err(get)?,
    })
}

pub(crate) fn outbox_from_row(r: &SqliteRow) -> Result<OutboxEvent, String> {
    let get = |e: sqlx::Error| e.to_string();
    Ok(OutboxEvent {
        id: r.try_get("id").map_err(get)?,
        kind: r.try_get("kind").map_err(get)?,
        payload: r.try_get("payload").map_err(get)?,
        created_at: r.try_get("created_at").map_err(get)?,
        sent_at: r.try_get("sent_at").map_err(get)?,
    })
}
