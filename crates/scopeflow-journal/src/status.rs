//! `scopeflow status`: every file version with its copies, read in pages so a journal of
//! 100,000 files costs neither the time nor the memory of collecting it first (collecting took
//! 6.6 s and 1.1 GB), with paging and filters applied by SQLite.
//!
//! Each page is one JSON text that SQLite builds (files with their copies nested): sqlx hands
//! rows over from its worker thread one at a time, and at 200,000 joined rows of 30 columns
//! that hand-over, not SQLite, was most of `status`'s 4 s. The text is positional (arrays in
//! column order, not objects): SQLite's `json_object` and serde's field matching were the
//! next largest costs. A task reads the next page while the caller prints this one, so
//! SQLite's thread and the caller's run side by side.

use std::ops::ControlFlow;

use scopeflow_core::FileState;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::error::JournalError;
use crate::model::{COPY_COLUMNS, CopyRow, FILE_COLUMNS, FileRow, FileStatus};
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

/// Files per page: a page is one JSON text of about 800 bytes per file.
const PAGE: u64 = 1000;

/// One file of a page: `[[FILE_COLUMNS…], format, [[COPY_COLUMNS…], …]]`. Serde reads a struct
/// from an array in field order, which is the columns' order (`model.rs`).
#[derive(Deserialize)]
struct PagedFile(FileRow, Option<String>, Vec<CopyRow>);

/// `json_array(x.a, x.b, …)` for a list of columns of table alias `x`.
fn json_array_of(alias: &str, columns: &str) -> String {
    let values: Vec<String> = columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect();
    format!("json_array({})", values.join(", "))
}

/// The SQL of one page: its JSON text and how many files it holds. `conditions` filter the
/// files; `offset` adds an `OFFSET ?` after the `LIMIT ?`.
fn page_sql(conditions: &[String], offset: bool) -> String {
    let filter = where_of(conditions);
    // Text concatenation, not `json(…)` around the copies: that would parse each file's
    // copies again.
    format!(
        "SELECT COALESCE('[' || group_concat(row, ',') || ']', '[]'), count(*) FROM (\
         SELECT '[' || {file} || ',' || json_quote(f.format) || ',[' || \
         COALESCE((SELECT group_concat({copy}, ',') FROM copies c WHERE c.file_id = f.id), '') \
         || ']]' AS row \
         FROM files f {filter} ORDER BY f.watch, f.rel, f.version LIMIT ?{})",
        if offset { " OFFSET ?" } else { "" },
        file = json_array_of("f", FILE_COLUMNS),
        copy = json_array_of("c", COPY_COLUMNS),
    )
}

/// The SQL of the key of a page's last file (`LIMIT 1 OFFSET ?`): the next page starts after
/// it. An index walk, far cheaper than taking it from the page's text.
fn last_key_sql(conditions: &[String]) -> String {
    format!(
        "SELECT watch, rel, version FROM files {} ORDER BY watch, rel, version LIMIT 1 OFFSET ?",
        where_of(conditions)
    )
}

fn where_of(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

type Key = (String, String, i64);

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
    /// at one page whatever the journal's size.
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
        let mut wheres = Vec::new();
        if !query.states.is_empty() {
            let list = vec!["?"; query.states.len()].join(", ");
            wheres.push(format!("state IN ({list})"));
        }
        if since.is_some() {
            wheres.push("updated_at >= ?".to_string());
        }
        // After the first page, the next one starts past the last file seen: the walk follows
        // the UNIQUE (watch, rel, version) index, so no page costs more than its own rows.
        let mut after = wheres.clone();
        after.push("(watch, rel, version) > (?, ?, ?)".to_string());
        let sql = Sql {
            first_page: page_sql(&wheres, true),
            next_page: page_sql(&after, false),
            first_key: last_key_sql(&wheres),
            next_key: last_key_sql(&after),
        };
        let states: Vec<&'static str> = query.states.iter().map(|s| s.as_str()).collect();
        let (pages, mut receive) = mpsc::channel(1);
        let reader = tokio::spawn(self.clone().read_pages(
            sql,
            states,
            since,
            query.limit.unwrap_or(u64::MAX),
            query.offset,
            pages,
        ));
        while let Some(page) = receive.recv().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    reader.abort();
                    return Err(e);
                }
            };
            let mut files: Vec<PagedFile> = serde_json::from_str(&page)
                .map_err(|e| self.corrupt(format!("a status row: {e}")))?;
            // The subquery chose the page's files in order; the order in which an aggregate
            // collects them is SQLite's to choose, and sorting them there would spill the
            // page to a temporary b-tree: sorted here instead (already in order: one pass).
            files.sort_by(|a, b| {
                (&a.0.watch, &a.0.rel, a.0.version).cmp(&(&b.0.watch, &b.0.rel, b.0.version))
            });
            for PagedFile(file, format, mut copies) in files {
                copies.sort_by(|a, b| a.destination.cmp(&b.destination));
                if each(FileStatus {
                    file,
                    format,
                    copies,
                })
                .is_break()
                {
                    // Dropping `receive` stops the reader, which rolls its transaction back.
                    return Ok(());
                }
            }
        }
        // The channel also closes if the reader panicked: a cut listing must not pass for a
        // whole one.
        reader.await.map_err(|e| {
            self.db(sqlx::Error::Io(std::io::Error::other(format!(
                "the status reader stopped: {e}"
            ))))
        })
    }

    /// Sends the pages of one read transaction (files and copies from the same moment) until
    /// `limit` files are sent, the listing ends, or the receiver is gone; an error is sent too.
    async fn read_pages(
        self,
        sql: Sql,
        states: Vec<&'static str>,
        since: Option<String>,
        limit: u64,
        offset: u64,
        pages: mpsc::Sender<Result<String, JournalError>>,
    ) {
        let result = async {
            let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
            let mut left = limit;
            let mut last: Option<Key> = None;
            while left > 0 {
                let n = left.min(PAGE);
                let (page_text, key_text, skip) = match &last {
                    None => (&sql.first_page, &sql.first_key, offset),
                    Some(_) => (&sql.next_page, &sql.next_key, 0),
                };
                let bind = |text: &String| {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(text.clone()));
                    for s in &states {
                        q = q.bind(*s);
                    }
                    if let Some(t) = &since {
                        q = q.bind(t.clone());
                    }
                    if let Some((watch, rel, version)) = &last {
                        q = q.bind(watch.clone()).bind(rel.clone()).bind(*version);
                    }
                    q
                };
                let mut q = bind(page_text).bind(i64::try_from(n).unwrap_or(i64::MAX));
                if last.is_none() {
                    q = q.bind(i64::try_from(offset).unwrap_or(i64::MAX));
                }
                let row = q.fetch_one(&mut *tx).await.map_err(|e| self.db(e))?;
                let (page, got) = page_of(&row).map_err(|e| self.db(e))?;
                if got == 0 {
                    break;
                }
                // A full page with more wanted after it: the next one starts past its last key.
                let more = got == n && left > n;
                if more {
                    let key_query = bind(key_text)
                        .bind(i64::try_from(skip.saturating_add(got - 1)).unwrap_or(i64::MAX));
                    let row = key_query
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(|e| self.db(e))?;
                    last = Some(key_of(&row).map_err(|e| self.db(e))?);
                }
                if pages.send(Ok(page)).await.is_err() {
                    return Ok(());
                }
                if !more {
                    break;
                }
                left -= got;
            }
            tx.commit().await.map_err(|e| self.db(e))
        }
        .await;
        if let Err(e) = result {
            let _ = pages.send(Err(e)).await;
        }
    }
}

/// The four statements of a listing: the first page (with the offset) and the next ones.
struct Sql {
    first_page: String,
    next_page: String,
    first_key: String,
    next_key: String,
}

fn page_of(row: &sqlx::sqlite::SqliteRow) -> Result<(String, u64), sqlx::Error> {
    use sqlx::Row;
    Ok((
        row.try_get(0)?,
        u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
    ))
}

fn key_of(row: &sqlx::sqlite::SqliteRow) -> Result<Key, sqlx::Error> {
    use sqlx::Row;
    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
}
