//! Exports for repositories (issue 16): DataCite 4.5 JSON and Dublin Core (`oai_dc`) of one
//! file, of a folder, or of a search result. Filled from the catalog row (path, size, sha256,
//! acquisition time, instrument, user, format) and the QC document's `metadata` and `naming`
//! (stored by [`record::record`] at ingest).
//!
//! - `GET /api/files/{id}/datacite.json`, `GET /api/files/{id}/dublin-core.xml`
//! - `GET /api/datasets/datacite.json?…`, `GET /api/datasets/dublin-core.xml?…`: the query of
//!   `GET /api/files` (`folder`, `q`, `agent`, `state`, `instrument`, `from`, `to`, `limit`,
//!   `offset`), one page of at most 1,000 files (the default here).

mod datacite;
mod describe;
mod dublin_core;
mod record;

#[cfg(test)]
mod tests;

use axum::Json;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::api::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::files::{FileQuery, MAX_LIMIT, file_row};
use describe::{Described, Kind};

pub use record::record;

pub async fn file_datacite(
    State(state): State<AppState>,
    _who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = file(&state, &headers, &id).await?;
    Ok(Json(datacite::render(&d)).into_response())
}

pub async fn file_dublin_core(
    State(state): State<AppState>,
    _who: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let d = file(&state, &headers, &id).await?;
    Ok(xml(dublin_core::render(&d)))
}

pub async fn dataset_datacite(
    State(state): State<AppState>,
    _who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(fq): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let d = dataset(&state, &headers, raw, fq).await?;
    Ok(Json(datacite::render(&d)).into_response())
}

pub async fn dataset_dublin_core(
    State(state): State<AppState>,
    _who: Principal,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(fq): Query<FileQuery>,
) -> Result<Response, ApiError> {
    let d = dataset(&state, &headers, raw, fq).await?;
    Ok(xml(dublin_core::render(&d)))
}

/// Adds `metadata`, `naming` and `eln_url` (what the file's QC document said; `null` when it
/// said nothing) to the JSON of `GET /api/files/{id}`.
pub async fn add_metadata(state: &AppState, doc: &mut Value, id: i64) -> Result<(), ApiError> {
    let row = crate::catalog::FileRow {
        id,
        ..Default::default()
    };
    let item = record::load(state, vec![row]).await?.remove(0);
    doc["eln_url"] = item.eln_url().map_or(Value::Null, Value::from);
    doc["metadata"] = if item.metadata.is_empty() {
        Value::Null
    } else {
        Value::Object(item.metadata)
    };
    doc["naming"] = item.naming.unwrap_or(Value::Null);
    Ok(())
}

fn xml(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn file(state: &AppState, headers: &HeaderMap, id: &str) -> Result<Described, ApiError> {
    let items = record::load(state, vec![file_row(state, id).await?]).await?;
    let base = base_url(headers);
    let url = format!("{base}/api/files/{id}");
    Ok(describe::describe(Kind::File, &items, &base, url, None))
}

async fn dataset(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<String>,
    fq: FileQuery,
) -> Result<Described, ApiError> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let filters = [
        ("folder", &fq.folder),
        ("q", &fq.q),
        ("agent", &fq.agent),
        ("state", &fq.state),
        ("instrument", &fq.instrument),
        ("from", &fq.from),
        ("to", &fq.to),
    ];
    let named: Vec<String> = filters
        .iter()
        .filter(|(_, v)| given(v))
        .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or_default().trim()))
        .collect();
    if named.is_empty() {
        return Err(ApiError::bad_request(
            "a dataset is a folder or a search: give folder= or one of q, agent, state, instrument, from, to",
        ));
    }
    let title = match fq.folder.as_deref().map(|f| f.trim_matches('/')) {
        Some(f) if !f.is_empty() && named.len() == 1 => f.to_string(),
        _ => format!("Files where {}", named.join(", ")),
    };
    let (rows, _, _) = crate::files::select(state, fq, MAX_LIMIT).await?;
    if rows.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no file where {}", named.join(", ")),
        ));
    }
    let items = record::load(state, rows).await?;
    let base = base_url(headers);
    let url = format!("{base}/api/files?{}", raw.unwrap_or_default());
    Ok(describe::describe(
        Kind::Dataset,
        &items,
        &base,
        url,
        Some(title),
    ))
}

/// The address clients reach this server at: the reverse proxy's `X-Forwarded-Proto` and
/// `X-Forwarded-Host` when it sets them, else `http://` and the `Host` header.
fn base_url(headers: &HeaderMap) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or(v).trim().to_string())
            .filter(|v| !v.is_empty() && !v.contains(['/', ' ', '"', '<', '>']))
    };
    let scheme = get("x-forwarded-proto")
        .filter(|p| p == "https" || p == "http")
        .unwrap_or_else(|| "http".into());
    let host = get("x-forwarded-host")
        .or_else(|| get("host"))
        .unwrap_or_else(|| "localhost".into());
    format!("{scheme}://{host}")
}
