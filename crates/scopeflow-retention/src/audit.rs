//! Audit records: one JSON object per decision, stored in the journal's `retention_audit`
//! table and appended as one line to `retention-audit.jsonl` beside the journal, readable with
//! no scopeflow (`jq`, a spreadsheet).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use scopeflow_journal::FileRow;
use serde_json::{Value, json};

use crate::error::RetentionError;

/// The audit file's name, beside the journal.
pub const AUDIT_FILE: &str = "retention-audit.jsonl";

pub(crate) struct Audit {
    pub run: String,
    pub host: String,
    /// The run's clock, RFC 3339.
    pub at: String,
    pub file: PathBuf,
}

impl Audit {
    pub fn new(state_dir: &std::path::Path, at: String) -> Audit {
        Audit {
            run: uuid::Uuid::now_v7().to_string(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            at,
            file: state_dir.join(AUDIT_FILE),
        }
    }

    /// `{"at", "run", "host", "decision", "code", "reason", "file": {id, watch, path,
    /// version, sha256, size}, "age_s", "destinations": [evidence…]}`.
    pub fn record(
        &self,
        f: &FileRow,
        age: Option<Duration>,
        decision: &str,
        code: &str,
        reason: &str,
        destinations: Vec<Value>,
    ) -> Value {
        json!({
            "at": self.at,
            "run": self.run,
            "host": self.host,
            "decision": decision,
            "code": code,
            "reason": reason,
            "file": {
                "id": f.id,
                "watch": f.watch,
                "path": f.rel,
                "version": f.version,
                "sha256": f.sha256,
                "size": f.size,
            },
            "age_s": age.map(|a| a.as_secs()),
            "destinations": destinations,
        })
    }

    /// Appends one line per record and syncs. A line torn by a crash is ended first, so it
    /// spoils only itself.
    pub fn append(&self, records: &[Value]) -> Result<(), RetentionError> {
        if records.is_empty() {
            return Ok(());
        }
        let err = |op, source| RetentionError::Io {
            path: self.file.clone(),
            op,
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.file)
            .map_err(|e| err("open the audit file", e))?;
        let mut text = String::new();
        let len = f
            .metadata()
            .map_err(|e| err("read the audit file", e))?
            .len();
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1))
                .and_then(|_| f.read_exact(&mut last))
                .map_err(|e| err("read the audit file", e))?;
            if last[0] != b'\n' {
                text.push('\n');
            }
        }
        for r in records {
            text.push_str(&r.to_string());
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .and_then(|()| sync_appended(&f, &self.file))
            .map_err(|e| err("append to the audit file", e))
    }
}

/// Windows flushes only through a handle opened for writing, not an append-only one: a second
/// handle flushes the file (`FlushFileBuffers` covers every handle's data). Unix syncs the
/// append handle itself.
fn sync_appended(file: &std::fs::File, path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(windows)]
    {
        let _ = file;
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)?
            .sync_data()
    }
    #[cfg(not(windows))]
    {
        let _ = path;
        file.sync_data()
    }
}
