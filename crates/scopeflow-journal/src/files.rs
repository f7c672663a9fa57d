//! A raw file's own states: seen, settled, processed, purged; and the reads.

use chrono::{DateTime, Utc};

use scopeflow_core::FileState;
use sqlx::{Sqlite, Transaction};

use crate::error::JournalError;
use crate::model::{COPY_COLUMNS, CopyRow, FILE_COLUMNS, FileRow, copy_from_row};
use crate::open::Journal;
use crate::time;

/// The newest version of each path; older versions are history.
pub(crate) const CURRENT: &str = "version = (SELECT MAX(g.version) FROM files g WHERE g.watch = files.watch AND g.rel = files.rel)";

impl Journal {
    /// The settle check passed: size and mtime held still and the file could be opened.
    pub async fn mark_stable(&self, id: i64) -> Result<(), JournalError> {
        self.mark_stable_many(&[id]).await
    }

    /// [`Journal::mark_stable`] for many files in one transaction: all or none.
    pub async fn mark_stable_many(&self, ids: &[i64]) -> Result<(), JournalError> {
        let mut tx = self.write().await?;
        for &id in ids {
            self.mark_stable_in(&mut tx, id).await?;
        }
        tx.commit().await.map_err(|e| self.db(e))
    }

    async fn mark_stable_in(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        id: i64,
    ) -> Result<(), JournalError> {
        let row = self.file_in(tx, id).await?;
        if row.state == FileState::Stable {
            return Ok(());
        }
        require(
            &row,
            &[FileState::Discovered, FileState::Failed],
            "become stable",
        )?;
        let now = time::fmt(time::now());
        sqlx::query(
            "UPDATE files SET state = 'stable', stable_at = ?, failed_from = NULL, error = NULL, \
             next_attempt_at = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The raw file was read, converted and its outputs written and synced locally;
    /// `sha256` is the raw file's (lowercase hex). Repeating it with the same checksum is a
    /// no-op (the state stays where it is); a different checksum than an earlier run is refused ([`JournalError::RawChanged`]).
    /// `qc` is the QC document (JSON) the outputs carry; the server gets it with the
    /// `processed` event.
    pub async fn mark_processed(
        &self,
        id: i64,
        sha256: &str,
        qc: Option<&str>,
    ) -> Result<(), JournalError> {
        self.mark_processed_with_thumbnail(id, sha256, qc, None)
            .await
    }

    /// [`Journal::mark_processed`], the `processed` event also carrying `thumbnail` (the PNG,
    /// base64) to the server. The journal keeps it only in that event.
    pub async fn mark_processed_with_thumbnail(
        &self,
        id: i64,
        sha256: &str,
        qc: Option<&str>,
        thumbnail: Option<&str>,
    ) -> Result<(), JournalError> {
        check_sha256(sha256)?;
        if let Some(doc) = qc
            && serde_json::from_str::<serde_json::Value>(doc).is_err()
        {
            return Err(JournalError::InvalidArgument {
                what: "QC document (JSON)",
                value: doc.chars().take(200).collect(),
            });
        }
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, id).await?;
        if let Some(old) = row.sha256.as_deref()
            && old != sha256
        {
            return Err(JournalError::RawChanged {
                id,
                rel: row.rel,
                expected: old.to_string(),
                found: sha256.to_string(),
            });
        }
        // Processing again after a crash or a lost work folder: nothing new to record, and the
        // copies already made stay valid.
        let done = [
            FileState::Processed,
            FileState::Transferred,
            FileState::Verified,
        ];
        if row.sha256.is_some() && done.contains(&row.state) {
            return Ok(());
        }
        require(
            &row,
            &[FileState::Stable, FileState::Failed],
            "become processed",
        )?;
        if let Some(png) = thumbnail {
            sqlx::query("INSERT OR REPLACE INTO thumbnails (file_id, png_base64) VALUES (?, ?)")
                .bind(id)
                .bind(png)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
        }
        // Before the state changes: the `processed` event's trigger reads the document.
        let keep = match qc {
            Some(doc) => {
                sqlx::query("INSERT OR REPLACE INTO qc_documents (file_id, doc) VALUES (?, ?)")
                    .bind(id)
                    .bind(doc)
            }
            None => sqlx::query("DELETE FROM qc_documents WHERE file_id = ?").bind(id),
        };
        keep.execute(&mut *tx).await.map_err(|e| self.db(e))?;
        let now = time::fmt(time::now());
        sqlx::query(
            "UPDATE files SET state = 'processed', sha256 = ?, \
             format = json_extract(?, '$.inspect.format'), processed_at = ?, \
             failed_from = NULL, error = NULL, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(sha256)
        .bind(qc)
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// The raw file was deleted by the retention robot; only a `verified` file may be.
    pub async fn mark_purged(&self, id: i64) -> Result<(), JournalError> {
        let mut tx = self.write().await?;
        self.purge_in(&mut tx, id).await?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// The `purged` transition inside a caller's transaction (the retention robot records its
    /// audit in the same one); already purged is a no-op.
    pub(crate) async fn purge_in(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        id: i64,
    ) -> Result<(), JournalError> {
        let row = self.file_in(tx, id).await?;
        if row.state == FileState::Purged {
            return Ok(());
        }
        require(&row, &[FileState::Verified], "become purged")?;
        let now = time::fmt(time::now());
        sqlx::query(
            "UPDATE files SET state = 'purged', purged_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// How many current versions still wait for work (any state before `verified`, and
    /// `failed`), for the queue length the agent reports to the server.
    pub async fn count_pending(&self) -> Result<u64, JournalError> {
        let sql = format!(
            "SELECT COUNT(*) FROM files WHERE state IN ('discovered', 'stable', 'processed', \
             'transferred', 'failed') AND {CURRENT}"
        );
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Rows the agent must work on now: current versions that are `discovered`, `stable`,
    /// `processed`, `transferred` or `failed`, and not deferred or backing off past `now`;
    /// in the order they were discovered.
    pub async fn pending(&self, now: DateTime<Utc>) -> Result<Vec<FileRow>, JournalError> {
        self.pending_due(Some(now)).await
    }

    /// [`Journal::pending`] whatever their back-off: what a fresh start retries at once.
    pub async fn pending_all(&self) -> Result<Vec<FileRow>, JournalError> {
        self.pending_due(None).await
    }

    async fn pending_due(&self, now: Option<DateTime<Utc>>) -> Result<Vec<FileRow>, JournalError> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files \
             WHERE state IN ('discovered', 'stable', 'processed', 'transferred', 'failed') \
             AND (?1 IS NULL OR next_attempt_at IS NULL OR next_attempt_at <= ?1) \
             AND {CURRENT} ORDER BY id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now.map(time::fmt))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .iter()
            .map(|r| self.file(r))
            .collect()
    }

    pub async fn get(&self, id: i64) -> Result<FileRow, JournalError> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .ok_or(JournalError::NotFound { id })?;
        self.file(&row)
    }

    /// The current (newest) version of `rel` under `watch`, if it was ever seen.
    pub async fn find(&self, watch: &str, rel: &str) -> Result<Option<FileRow>, JournalError> {
        let sql =
            format!("SELECT {FILE_COLUMNS} FROM files WHERE watch = ? AND rel = ? AND {CURRENT}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(watch)
            .bind(rel)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .map(|r| self.file(&r))
            .transpose()
    }

    /// Id of the first version of `rel` ever recorded: a stable "who came first" between paths,
    /// which later versions do not change.
    pub async fn first_id(&self, watch: &str, rel: &str) -> Result<Option<i64>, JournalError> {
        sqlx::query_scalar::<_, Option<i64>>(
            "SELECT MIN(id) FROM files WHERE watch = ? AND rel = ?",
        )
        .bind(watch)
        .bind(rel)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))
    }

    /// A file version's copies, by destination name.
    pub async fn copies(&self, id: i64) -> Result<Vec<CopyRow>, JournalError> {
        let sql =
            format!("SELECT {COPY_COLUMNS} FROM copies WHERE file_id = ? ORDER BY destination");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?
            .iter()
            .map(|r| copy_from_row(r).map_err(|e| self.corrupt(e)))
            .collect()
    }
}

/// Refuses the move unless the row is in one of `from`.
pub(crate) fn require(
    row: &FileRow,
    from: &[FileState],
    action: &'static str,
) -> Result<(), JournalError> {
    if from.contains(&row.state) {
        Ok(())
    } else {
        Err(JournalError::InvalidTransition {
            id: row.id,
            rel: row.rel.clone(),
            from: row.state.to_string(),
            action,
        })
    }
}

/// Lowercase hex only, so stored checksums compare as plain strings.
pub(crate) fn check_sha256(sha256: &str) -> Result<(), JournalError> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(JournalError::InvalidArgument {
            what: "sha256 (64 lowercase hex digits)",
            value: sha256.to_string(),
        })
    }
}
