//! `scopeflow status`: every file version with its copies, streamed from SQLite row by row so a
//! journal of 100,000 files costs neither the time nor the memory of collecting it first
//! (collecting took 6.6 s and 1.1 GB), with paging and filters applied by SQLite.

use std::ops::ControlFlow;

use futures::TryStreamExt;
use scopeflow_core::{CopyState, FileState};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error::JournalError;
use crate::model::{CopyRow, FILE_COLUMNS, FileStatus};
use crate::open::Journal;

/// Which rows `status` lists, in (watch folder, path, version) order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusQuery {
    /// Only rows in one of these states; empty: every state.
    pub states: Vec<FileState>,
    /// Only rows changed (any state or copy change updates it) at or after this RFC 3339 time.
    pub since: Option<String>,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// The copy columns under names that cannot clash with the file's.
const COPY_ALIASES: &str = "c.file_id AS c_file_id, c.destination AS c_destination, \
    c.state AS c_state, c.sha256 AS c_sha256, c.transferred_at AS c_transferred_at, \
    c.verified_at AS c_verified_at, c.error AS c_error, c.updated_at AS c_updated_at, \
    c.path AS c_path";

impl Journal {
    /// Every row (all versions) with its copies, by watch folder, path and version.
    pub async fn status(&self) -> Result<Vec<FileStatus>, JournalError> {
        let mut out = Vec::new();
        self.status_each(&StatusQuery::default(), |s| {
            out.push(s);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    /// Calls `each` with the rows `query` selects, one at a time, in order, until it says
    /// `Break`. One read transaction: files and copies come from the same moment. Memory stays
    /// at one row whatever the journal's size.
    pub async fn status_each(
        &self,
        query: &StatusQuery,
        mut each: impl FnMut(FileStatus) -> ControlFlow<()>,
    ) -> Result<(), JournalError> {
        let since =
            match &query.since {
                Some(s) => Some(crate::time::normalise(s).ok_or_else(|| {
                    JournalError::InvalidArgument {
                        what: "since (RFC 3339 time)",
                        value: s.clone(),
                    }
                })?),
                None => None,
            };
        // Without a page, files are walked in the order of their UNIQUE (watch, rel, version)
        // index and joined with their copies through the copies' primary key: SQLite streams
        // the rows without sorting. A page is chosen first in a subquery, then joined.
        let paged = query.limit.is_some() || query.offset > 0;
        let col = if paged { "" } else { "f." };
        let mut wheres = Vec::new();
        if !query.states.is_empty() {
            let list = vec!["?"; query.states.len()].join(", ");
            wheres.push(format!("{col}state IN ({list})"));
        }
        if since.is_some() {
            wheres.push(format!("{col}updated_at >= ?"));
        }
        let filter = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let outer: Vec<String> = FILE_COLUMNS
            .split(',')
            .map(|c| format!("f.{}", c.trim()))
            .collect();
        let from = if paged {
            // LIMIT -1 is SQLite's "no limit"; an offset needs a LIMIT clause.
            let limit = query
                .limit
                .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            format!(
                "(SELECT * FROM files {filter} ORDER BY watch, rel, version \
                 LIMIT {limit} OFFSET {offset}) f LEFT JOIN copies c ON c.file_id = f.id"
            )
        } else {
            format!("files f LEFT JOIN copies c ON c.file_id = f.id {filter}")
        };
        let sql = format!(
            "SELECT {outer}, json_extract(f.qc, '$.inspect.format') AS format, {COPY_ALIASES} \
             FROM {from} ORDER BY f.watch, f.rel, f.version, c.destination",
            outer = outer.join(", ")
        );
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in &query.states {
                q = q.bind(s.as_str());
            }
            if let Some(t) = since {
                q = q.bind(t);
            }
            let mut rows = q.fetch(&mut *tx);
            let mut current: Option<FileStatus> = None;
            while let Some(r) = rows.try_next().await.map_err(|e| self.db(e))? {
                let id: i64 = r.try_get("id").map_err(|e| self.db(e))?;
                if let Some(done) = current.take_if(|c| c.file.id != id)
                    && each(done).is_break()
                {
                    return Ok(());
                }
                let status = match current.as_mut() {
                    Some(s) => s,
                    None => current.insert(FileStatus {
                        file: self.file(&r)?,
                        format: r.try_get("format").ok().flatten(),
                        copies: Vec::new(),
                    }),
                };
                if let Some(copy) = copy_of(&r).map_err(|e| self.corrupt(e))? {
                    status.copies.push(copy);
                }
            }
            if let Some(last) = current {
                let _ = each(last);
            }
        }
        tx.commit().await.map_err(|e| self.db(e))
    }
}

/// The joined copy of a status row; `None` for a file without copies (the LEFT JOIN's NULLs).
fn copy_of(r: &SqliteRow) -> Result<Option<CopyRow>, String> {
    let col = |e: sqlx::Error| e.to_string();
    let Some(file_id) = r.try_get::<Option<i64>, _>("c_file_id").map_err(col)? else {
        return Ok(None);
    };
    let state: String = r.try_get("c_state").map_err(col)?;
    Ok(Some(CopyRow {
        file_id,
        destination: r.try_get("c_destination").map_err(col)?,
        state: state
            .parse::<CopyState>()
            .map_err(|e| format!("copies.state: {e}"))?,
        sha256: r.try_get("c_sha256").map_err(col)?,
        transferred_at: r.try_get("c_transferred_at").map_err(col)?,
        verified_at: r.try_get("c_verified_at").map_err(col)?,
        error: r.try_get("c_error").map_err(col)?,
        updated_at: r.try_get("c_updated_at").map_err(col)?,
        path: r.try_get("c_path").map_err(col)?,
    }))
}
