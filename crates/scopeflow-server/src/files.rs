//! `GET /api/files` (filters, text search, paging) and `GET /api/files/{id}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use scopeflow_core::FileState;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row};

use crate::api::AppState;
use crate::auth::Principal;
use crate::catalog::FileRow;
use crate::db::Backend;
use crate::error::ApiError;
use crate::store::{FILE_COLUMNS, read_row};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Default, Deserialize)]
pub struct FileQuery {
    pub agent: Option<String>,
    pub state: Option<String>,
    pub q: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub instrument: Option<String>,
    /// A folder of the watched tree (`alice/run2`): the files in it and below it.
    pub folder: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    Query(fq): Query<FileQuery>,
) -> Result<Json<Value>, ApiError> {
    let (mut rows, limit, offset) = select(&state, fq, DEFAULT_LIMIT).await?;
    fill_docs(&state, &mut rows, false).await?;
    let mut copies = copies_of(&state, &rows).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let thumbs = crate::thumbnails::which(&state, &ids).await?;
    let mut alarms = crate::alarms::of_files(&state, &ids).await?;
    let files: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut f = file_json(r, copies.remove(&r.id).unwrap_or_default());
            f["thumbnail"] = thumbnail_url(r.id, thumbs.contains(&r.id));
            f["alarms"] = Value::Array(alarms.remove(&r.id).unwrap_or_default());
            f
        })
        .collect();
    Ok(Json(
        json!({ "files": files, "limit": limit, "offset": offset }),
    ))
}

/// The rows of one page of the list `fq` asks for (documents not read), with the page's
/// limit and offset; shared with the dataset exports, which page the same way.
pub async fn select(
    state: &AppState,
    fq: FileQuery,
    default_limit: i64,
) -> Result<(Vec<FileRow>, i64, i64), ApiError> {
    let limit = fq.limit.unwrap_or(default_limit).clamp(1, MAX_LIMIT);
    let offset = fq.offset.unwrap_or(0).max(0);
    let mut wheres: Vec<String> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    let mut add = |clause: &str, value: String| {
        args.push(value);
        wheres.push(clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(a) = fq.agent.filter(|s| !s.is_empty()) {
        add("agent = ?", a);
    }
    if let Some(s) = fq.state.filter(|s| !s.is_empty()) {
        if s.parse::<FileState>().is_err() {
            let names: Vec<&str> = FileState::ALL.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "state={s}: expected one of {}",
                names.join(", ")
            )));
        }
        add("state = ?", s);
    }
    if let Some(i) = fq.instrument.filter(|s| !s.is_empty()) {
        add("instrument = ?", i);
    }
    if let Some(f) = fq
        .folder
        .as_deref()
        .map(|f| f.trim_matches('/'))
        .filter(|f| !f.is_empty())
    {
        // An exact prefix: `LIKE` ignores ASCII case on SQLite, folders do not.
        let prefix = format!("{f}/");
        let len = prefix.chars().count();
        add(&format!("substr(path, 1, {len}) = ?"), prefix);
    }
    if let Some(q) = fq.q.filter(|s| !s.trim().is_empty()) {
        let sqlite = state.db.backend == Backend::Sqlite;
        for word in q.split_whitespace() {
            let word = word.to_lowercase();
            let indexed = sqlite && word.chars().count() >= 3 && !common(state, &word).await?;
            let (clause, value) = search_clause(&word, indexed);
            add(clause, value);
        }
    }
    for (name, value, op) in [("from", &fq.from, ">="), ("to", &fq.to, "<")] {
        if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
            let t = crate::time::bound(v).ok_or_else(|| {
                ApiError::bad_request(format!("{name}={v}: expected RFC 3339 or YYYY-MM-DD"))
            })?;
            add(&format!("sort_at {op} ?"), t);
        }
    }
    let filter = if wheres.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wheres.join(" AND "))
    };
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files {filter} ORDER BY sort_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for a in args {
        query = query.bind(a);
    }
    let rows = query.fetch_all(&state.db.pool).await?;
    let rows: Vec<FileRow> = rows.iter().map(read_row).collect::<Result<_, _>>()?;
    Ok((rows, limit, offset))
}

/// A file id from a URL path: 400 when it is not a number.
pub(crate) fn file_id(id: &str) -> Result<i64, ApiError> {
    id.parse()
        .map_err(|_| ApiError::bad_request(format!("file id {id:?} is not a number")))
}

/// The catalog row of the file whose id is in a URL path: 400 for a bad id, 404 for none.
pub(crate) async fn file_row(state: &AppState, id: &str) -> Result<FileRow, ApiError> {
    let id = file_id(id)?;
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no file with id {id}")))?;
    Ok(read_row(&row)?)
}

pub async fn one(
    State(state): State<AppState>,
    _who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut row = file_row(&state, &id).await?;
    let id = row.id;
    fill_docs(&state, std::slice::from_mut(&mut row), true).await?;
    let copies = copies_of(&state, std::slice::from_ref(&row))
        .await?
        .remove(&id)
        .unwrap_or_default();
    let events =
        sqlx::query("SELECT id, kind, at, data FROM events WHERE file_id = $1 ORDER BY at, id")
            .bind(id)
            .fetch_all(&state.db.pool)
            .await?
            .iter()
            .map(|e| {
                let data: String = e.try_get("data")?;
                Ok(json!({
                    "id": e.try_get::<String, _>("id")?,
                    "kind": e.try_get::<String, _>("kind")?,
                    "at": e.try_get::<String, _>("at")?,
                    "data": serde_json::from_str::<Value>(&data).unwrap_or(Value::Null),
                }))
            })
            .collect::<Result<Vec<Value>, sqlx::Error>>()?;
    let mut doc = file_json(&row, copies);
    crate::exports::add_metadata(&state, &mut doc, id).await?;
    doc["inspect"] = parse(row.inspect.as_deref());
    doc["events"] = Value::Array(events);
    doc["thumbnail"] = thumbnail_url(
        id,
        !crate::thumbnails::which(&state, &[id]).await?.is_empty(),
    );
    let alarms = crate::alarms::of_files(&state, &[id]).await?.remove(&id);
    doc["alarms"] = Value::Array(alarms.unwrap_or_default());
    Ok(Json(doc))
}

/// One word of `q=`: files whose search text (path, channels, instrument, user, agent, format;
/// stored lower-cased) contains it. On SQLite (`indexed`) a rare word of 3 characters or more
/// is looked up in the FTS5 trigram index (server migration 4) as a phrase, which matches the
/// same substrings as `LIKE '%word%'`. A word of 1 or 2 characters has no trigram, and a common
/// one (over [`COMMON`] files) is faster found by scanning in the list's time order, which stops
/// at `limit` (the index would hand over all its matches first: 3 s for `gfp` at a million):
/// both use `LIKE`. PostgreSQL's `LIKE` uses its pg_trgm index (migration 2) by itself.
fn search_clause(word: &str, indexed: bool) -> (&'static str, String) {
    if indexed {
        return (
            "id IN (SELECT rowid FROM files_fts WHERE files_fts MATCH ?)",
            phrase(word),
        );
    }
    (
        "search LIKE ? ESCAPE '\\'",
        format!("%{}%", like_escape(word)),
    )
}

/// `s` matched literally by `LIKE … ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Matches past which a word counts as common (see [`search_clause`]).
const COMMON: i64 = 5_000;

/// An FTS5 string: double quotes doubled, so the word is one phrase whatever it holds.
fn phrase(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// Whether the trigram index holds more than [`COMMON`] files containing `word` (it stops
/// counting there, so asking costs little either way).
async fn common(state: &AppState, word: &str) -> Result<bool, ApiError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT rowid FROM files_fts WHERE files_fts MATCH $1 LIMIT $2)",
    )
    .bind(phrase(word))
    .bind(COMMON + 1)
    .fetch_one(&state.db.pool)
    .await?;
    Ok(n > COMMON)
}

/// The JSON of one file in a list (keys of CLI.md first, then ours).
pub fn file_json(r: &FileRow, copies: Vec<Value>) -> Value {
    json!({
        "id": r.id,
        "agent": r.agent,
        "path": r.path,
        "state": r.state,
        "sha256": r.sha256,
        "size": r.size,
        "acquired_at": r.acquired_at,
        "modified_at": r.modified_at,
        "qc": parse(r.qc.as_deref()),
        "copies": copies,
        "watch": r.watch,
        "version": r.version,
        "found_at": r.found_at,
        "instrument": r.instrument,
        "user": r.user_name,
        "channels": r.channels.as_deref().map(|c| c.split(',').collect::<Vec<_>>()),
        "dtype": r.dtype,
        "axes": r.axes,
        "format": r.format,
        "error": r.error,
        "kept_reason": r.kept_reason,
        "purged_at": r.purged_at,
    })
}

/// Where the file's thumbnail is served, or `null` when it has none.
fn thumbnail_url(id: i64, has: bool) -> Value {
    if has {
        json!(format!("/api/files/{id}/thumbnail.png"))
    } else {
        Value::Null
    }
}

fn parse(text: Option<&str>) -> Value {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null)
}

/// Reads the QC (and inspect) documents of these rows from `file_docs`.
async fn fill_docs(state: &AppState, rows: &mut [FileRow], inspect: bool) -> Result<(), ApiError> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let cols = if inspect {
        "file_id, qc, inspect"
    } else {
        "file_id, qc"
    };
    // Ids are integers from our own rows: safe to inline.
    let sql = format!(
        "SELECT {cols} FROM file_docs WHERE file_id IN ({})",
        ids.join(",")
    );
    let mut docs: HashMap<i64, (Option<String>, Option<String>)> = HashMap::new();
    for d in sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&state.db.pool)
        .await?
    {
        let inspect_doc = if inspect { d.try_get("inspect")? } else { None };
        docs.insert(d.try_get("file_id")?, (d.try_get("qc")?, inspect_doc));
    }
    for r in rows {
        if let Some((qc, inspect_doc)) = docs.remove(&r.id) {
            r.qc = qc;
            r.inspect = inspect_doc;
        }
    }
    Ok(())
}

async fn copies_of(
    state: &AppState,
    rows: &[FileRow],
) -> Result<HashMap<i64, Vec<Value>>, ApiError> {
    let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
    if rows.is_empty() {
        return Ok(out);
    }
    // Ids are integers from our own rows: safe to inline.
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let sql = format!(
        "SELECT file_id, destination, verified_at, error FROM copies WHERE file_id IN ({}) ORDER BY destination",
        ids.join(",")
    );
    for c in sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&state.db.pool)
        .await?
    {
        let file_id: i64 = c.try_get("file_id")?;
        out.entry(file_id).or_default().push(json!({
            "destination": c.try_get::<String, _>("destination")?,
            "verified_at": c.try_get::<Option<String>, _>("verified_at")?,
            "error": c.try_get::<Option<String>, _>("error")?,
        }));
    }
    Ok(out)
}
