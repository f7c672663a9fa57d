//! A file seen on disk: recorded, one by one or a whole scan's worth in one transaction.

use scopeflow_core::FileState;
use sqlx::{Sqlite, Transaction};

use crate::error::JournalError;
use crate::files::CURRENT;
use crate::model::{FILE_COLUMNS, FileRow};
use crate::open::Journal;
use crate::time;

impl Journal {
    /// A file seen on disk with this size and mtime; returns its current row.
    ///
    /// A new path becomes version 1 `discovered`. Same size and mtime as the current row:
    /// unchanged (and nothing is written, so rescans cost no fsync). Different while the row is
    /// `discovered` or `stable`: the file is still being written, the row takes the new size
    /// and mtime and goes back to `discovered` (settling restarts). Different once the row is
    /// past `stable` (or failed, quarantined, purged): a new version row, version + 1,
    /// `discovered`; the old row stays as it was, since its outputs and copies are of the old
    /// content.
    pub async fn observe(
        &self,
        watch: &str,
        rel: &str,
        size: u64,
        mtime_ns: i64,
    ) -> Result<FileRow, JournalError> {
        if let Some(r) = self.find(watch, rel).await?
            && r.size == size
            && r.mtime_ns == mtime_ns
        {
            return Ok(r);
        }
        let mut tx = self.write().await?;
        let row = self.observe_in(&mut tx, watch, rel, size, mtime_ns).await?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(row)
    }

    /// [`Journal::observe`] for many files of one watch folder in one transaction (one sync
    /// instead of one per file: a plate reader drops thousands at once). Rows in input order.
    pub async fn observe_many(
        &self,
        watch: &str,
        seen: &[(String, u64, i64)],
    ) -> Result<Vec<FileRow>, JournalError> {
        let mut tx = self.write().await?;
        let mut rows = Vec::with_capacity(seen.len());
        for (rel, size, mtime_ns) in seen {
            rows.push(
                self.observe_in(&mut tx, watch, rel, *size, *mtime_ns)
                    .await?,
            );
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(rows)
    }

    async fn observe_in(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        watch: &str,
        rel: &str,
        size: u64,
        mtime_ns: i64,
    ) -> Result<FileRow, JournalError> {
        if watch.is_empty() || rel.is_empty() {
            return Err(JournalError::InvalidArgument {
                what: "watch folder and relative path must not be empty",
                value: format!("{watch:?} {rel:?}"),
            });
        }
        let size_i = i64::try_from(size).map_err(|_| JournalError::InvalidArgument {
            what: "file size",
            value: size.to_string(),
        })?;
        let same = |r: &FileRow| r.size == size && r.mtime_ns == mtime_ns;
        let sql =
            format!("SELECT {FILE_COLUMNS} FROM files WHERE watch = ? AND rel = ? AND {CURRENT}");
        let current = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(watch)
            .bind(rel)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.db(e))?
            .map(|r| self.file(&r))
            .transpose()?;
        let now = time::fmt(time::now());
        let row = match current {
            Some(r) if same(&r) => return Ok(r),
            Some(r) if r.state == FileState::Discovered || r.state == FileState::Stable => {
                let sql = format!(
                    "UPDATE files SET size = ?, mtime_ns = ?, state = 'discovered', stable_at = NULL, \
                     error = NULL, next_attempt_at = NULL, updated_at = ? WHERE id = ? RETURNING {FILE_COLUMNS}"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(size_i)
                    .bind(mtime_ns)
                    .bind(&now)
                    .bind(r.id)
                    .fetch_one(&mut **tx)
                    .await
            }
            other => {
                let version = other.map_or(1, |r| r.version + 1);
                let sql = format!(
                    "INSERT INTO files (watch, rel, version, size, mtime_ns, state, discovered_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, 'discovered', ?, ?) RETURNING {FILE_COLUMNS}"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(watch)
                    .bind(rel)
                    .bind(version)
                    .bind(size_i)
                    .bind(mtime_ns)
                    .bind(&now)
                    .bind(&now)
                    .fetch_one(&mut **tx)
                    .await
            }
        }
        .map_err(|e| self.db(e))?;
        self.file(&row)
    }
}
