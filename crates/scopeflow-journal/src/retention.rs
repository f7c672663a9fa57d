//! What the retention robot reads from and writes to the journal: the current versions with
//! their copies (two queries, whatever the number of files), purge intents, the audit table
//! and the trash list (migration 0003).
//!
//! Audit records are passed as the JSON object the robot also appends to its JSON-lines file,
//! so the table and the file cannot drift apart.

use std::collections::HashMap;

use scopeflow_core::FileState;
use serde_json::Value;
use sqlx::Row;

use crate::error::JournalError;
use crate::model::{COPY_COLUMNS, CopyRow, FILE_COLUMNS, FileStatus, copy_from_row};
use crate::open::Journal;
use crate::time;

/// The newest version of its path: only this row's raw file is on disk (older versions' rows
/// name the same local path, but their content is gone).
const NEWEST: &str = "NOT EXISTS (SELECT 1 FROM files n WHERE n.watch = files.watch \
    AND n.rel = files.rel AND n.version > files.version)";

/// A purge begun by a run that may have been killed before recording it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgeIntent {
    pub file_id: i64,
    /// `delete` or `trash`.
    pub mode: String,
    pub source: String,
    pub target: Option<String>,
    pub created_at: String,
}

/// A raw file in the trash, waiting for `trash_keep` to pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrashEntry {
    pub file_id: i64,
    pub path: String,
    pub trashed_at: String,
}

impl Journal {
    /// Current versions not yet purged, each with its copies (read for `verified` rows only,
    /// the only ones whose copies matter to a purge), oldest ingest first.
    ///
    /// Read by pages of ids inside one read transaction: a consistent snapshot, without ever
    /// holding more than one page of raw SQLite rows (100,000 rows at once cost ~600 MB).
    pub async fn retention_candidates(&self) -> Result<Vec<FileStatus>, JournalError> {
        const PAGE: i64 = 5_000;
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let files_sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id > ? AND state <> 'purged' AND {NEWEST} \
             ORDER BY id LIMIT {PAGE}"
        );
        let copies_sql = format!(
            "SELECT {COPY_COLUMNS} FROM copies WHERE file_id BETWEEN ? AND ? AND file_id IN \
             (SELECT id FROM files WHERE id BETWEEN ? AND ? AND state = 'verified') \
             ORDER BY file_id, destination"
        );
        let mut out: Vec<FileStatus> = Vec::new();
        let mut after = 0i64;
        loop {
            let rows = sqlx::query(sqlx::AssertSqlSafe(files_sql.as_str()))
                .bind(after)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            let page: Vec<_> = rows
                .iter()
                .map(|r| self.file(r))
                .collect::<Result<_, _>>()?;
            drop(rows);
            let (Some(first), Some(last)) = (page.first().map(|f| f.id), page.last().map(|f| f.id))
            else {
                break;
            };
            let copies = sqlx::query(sqlx::AssertSqlSafe(copies_sql.as_str()))
                .bind(first)
                .bind(last)
                .bind(first)
                .bind(last)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            let mut by_file: HashMap<i64, Vec<CopyRow>> = HashMap::new();
            for r in &copies {
                let c = copy_from_row(r).map_err(|e| self.corrupt(e))?;
                by_file.entry(c.file_id).or_default().push(c);
            }
            drop(copies);
            after = last;
            out.extend(page.into_iter().map(|file| {
                let copies = by_file.remove(&file.id).unwrap_or_default();
                FileStatus {
                    file,
                    format: None,
                    copies,
                }
            }));
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        // Ingest order; the fixed-width timestamps sort as text.
        out.sort_by(|a, b| {
            (a.file.discovered_at.as_str(), a.file.id)
                .cmp(&(b.file.discovered_at.as_str(), b.file.id))
        });
        Ok(out)
    }

    /// Records, durably, that file `id`'s raw file at `source` is about to be deleted (`mode`
    /// `delete`) or moved to `target` (`trash`). Call it before touching the file.
    pub async fn retention_intend(
        &self,
        id: i64,
        mode: &str,
        source: &str,
        target: Option<&str>,
    ) -> Result<(), JournalError> {
        if !matches!(mode, "delete" | "trash") || (mode == "trash") != target.is_some() {
            return Err(JournalError::InvalidArgument {
                what: "purge intent (delete, or trash with a target)",
                value: format!("{mode} {target:?}"),
            });
        }
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, id).await?;
        crate::files::require(&row, &[FileState::Verified], "be purged")?;
        sqlx::query(
            "INSERT INTO retention_intents (file_id, mode, source, target, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (file_id) DO UPDATE SET mode = excluded.mode, \
             source = excluded.source, target = excluded.target, created_at = excluded.created_at",
        )
        .bind(id)
        .bind(mode)
        .bind(source)
        .bind(target)
        .bind(time::fmt(time::now()))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Intents left by runs that did not finish, oldest first.
    pub async fn retention_intents(&self) -> Result<Vec<PurgeIntent>, JournalError> {
        let rows = sqlx::query(
            "SELECT file_id, mode, source, target, created_at FROM retention_intents \
             ORDER BY created_at, file_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| {
                let get = |e: sqlx::Error| self.corrupt(e.to_string());
                Ok(PurgeIntent {
                    file_id: r.try_get("file_id").map_err(get)?,
                    mode: r.try_get("mode").map_err(get)?,
                    source: r.try_get("source").map_err(get)?,
                    target: r.try_get("target").map_err(get)?,
                    created_at: r.try_get("created_at").map_err(get)?,
                })
            })
            .collect()
    }

    /// Drops an intent whose purge did not happen (the raw file is still in place): the file
    /// is decided again like any other.
    pub async fn retention_abandon(&self, id: i64) -> Result<(), JournalError> {
        sqlx::query("DELETE FROM retention_intents WHERE file_id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The raw file of `id` is gone (deleted, or moved to the trash at `trash.0` at the run's
    /// time `trash.1`): in one transaction the file becomes `purged` (only from `verified`;
    /// again is a no-op), its intent is dropped, the trash entry and the audit record added.
    pub async fn retention_purged(
        &self,
        id: i64,
        trash: Option<(&str, &str)>,
        audit: &Value,
    ) -> Result<(), JournalError> {
        let mut tx = self.write().await?;
        self.purge_in(&mut tx, id).await?;
        sqlx::query("DELETE FROM retention_intents WHERE file_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        if let Some((path, at)) = trash {
            let at = normal(at)?;
            sqlx::query(
                "INSERT INTO retention_trash (file_id, path, trashed_at) VALUES (?, ?, ?) \
                 ON CONFLICT (file_id) DO NOTHING",
            )
            .bind(id)
            .bind(path)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        }
        insert_audit(self, &mut tx, audit).await?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Appends audit records (each the JSON object of one decision), in one transaction.
    pub async fn retention_audit(&self, records: &[Value]) -> Result<(), JournalError> {
        let mut tx = self.write().await?;
        for r in records {
            insert_audit(self, &mut tx, r).await?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// The last recorded `(decision, code)` of each file, so a decision repeated run after
    /// run is audited once.
    pub async fn retention_last_codes(
        &self,
    ) -> Result<HashMap<i64, (String, String)>, JournalError> {
        let rows = sqlx::query(
            "SELECT a.file_id, a.decision, a.code FROM retention_audit a \
             WHERE a.id = (SELECT MAX(b.id) FROM retention_audit b WHERE b.file_id = a.file_id)",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let get = |e: sqlx::Error| self.corrupt(e.to_string());
        let mut out = HashMap::with_capacity(rows.len());
        for r in &rows {
            let id: Option<i64> = r.try_get("file_id").map_err(get)?;
            if let Some(id) = id {
                out.insert(
                    id,
                    (
                        r.try_get("decision").map_err(get)?,
                        r.try_get("code").map_err(get)?,
                    ),
                );
            }
        }
        Ok(out)
    }

    /// Trash entries not deleted yet that arrived at or before `before` (RFC 3339).
    pub async fn retention_trash_due(&self, before: &str) -> Result<Vec<TrashEntry>, JournalError> {
        let before = normal(before)?;
        let rows = sqlx::query(
            "SELECT file_id, path, trashed_at FROM retention_trash \
             WHERE deleted_at IS NULL AND trashed_at <= ? ORDER BY trashed_at, file_id",
        )
        .bind(before)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        let get = |e: sqlx::Error| self.corrupt(e.to_string());
        rows.iter()
            .map(|r| {
                Ok(TrashEntry {
                    file_id: r.try_get("file_id").map_err(get)?,
                    path: r.try_get("path").map_err(get)?,
                    trashed_at: r.try_get("trashed_at").map_err(get)?,
                })
            })
            .collect()
    }

    /// The trash entry of `id` was deleted (or found already gone), at the run's time `at`.
    pub async fn retention_trash_deleted(
        &self,
        id: i64,
        at: &str,
        audit: &Value,
    ) -> Result<(), JournalError> {
        let at = normal(at)?;
        let mut tx = self.write().await?;
        sqlx::query("UPDATE retention_trash SET deleted_at = ? WHERE file_id = ?")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        insert_audit(self, &mut tx, audit).await?;
        tx.commit().await.map_err(|e| self.db(e))
    }
}

fn normal(at: &str) -> Result<String, JournalError> {
    time::normalise(at).ok_or_else(|| JournalError::InvalidArgument {
        what: "timestamp (RFC 3339)",
        value: at.to_string(),
    })
}

/// One audit row from the robot's JSON record: `at`, `run`, `host`, `decision`, `code`,
/// `reason`, `file` {`id`, `watch`, `path`, `version`, `sha256`, `size`}, `age_s`,
/// `destinations` (a list).
async fn insert_audit(
    j: &Journal,
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    r: &Value,
) -> Result<(), JournalError> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    let bad = |what: &'static str| JournalError::InvalidArgument {
        what,
        value: r.to_string().chars().take(300).collect(),
    };
    let f = &r["file"];
    let at = text(&r["at"])
        .and_then(|a| time::normalise(&a))
        .ok_or_else(|| bad("audit record: at (RFC 3339)"))?;
    let size = f["size"]
        .as_i64()
        .ok_or_else(|| bad("audit record: file.size"))?;
    sqlx::query(
        "INSERT INTO retention_audit (at, run_id, host, file_id, watch, rel, version, sha256, size, \
         age_s, decision, code, reason, destinations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(at)
    .bind(text(&r["run"]).ok_or_else(|| bad("audit record: run"))?)
    .bind(text(&r["host"]).unwrap_or_default())
    .bind(f["id"].as_i64())
    .bind(text(&f["watch"]).ok_or_else(|| bad("audit record: file.watch"))?)
    .bind(text(&f["path"]).ok_or_else(|| bad("audit record: file.path"))?)
    .bind(f["version"].as_i64().unwrap_or(1))
    .bind(text(&f["sha256"]))
    .bind(size)
    .bind(r["age_s"].as_i64())
    .bind(text(&r["decision"]).ok_or_else(|| bad("audit record: decision"))?)
    .bind(text(&r["code"]).ok_or_else(|| bad("audit record: code"))?)
    .bind(text(&r["reason"]).ok_or_else(|| bad("audit record: reason"))?)
    .bind(
        r.get("destinations")
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new()))
            .to_string(),
    )
    .execute(&mut **tx)
    .await
    .map_err(|e| j.db(e))?;
    Ok(())
}
