//! Routes and the shared state; the read endpoints live in [`crate::files`] and [`crate::reports`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use scopeflow_core::{EventAck, EventBatch};
use tokio::sync::Mutex;

use crate::auth::Principal;
use crate::db::Db;
use crate::error::ApiError;
use crate::{ServeOptions, ServerError};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// One batch is applied at a time: SQLite has one writer anyway, and on PostgreSQL two
    /// batches touching the same aggregate rows could otherwise deadlock.
    pub write_lock: Arc<Mutex<()>>,
    pub saturation_alarm: f64,
}

impl AppState {
    pub async fn open(opts: &ServeOptions) -> Result<AppState, ServerError> {
        Ok(AppState {
            db: Db::open(opts.db.as_deref()).await?,
            write_lock: Arc::new(Mutex::new(())),
            saturation_alarm: opts.saturation_alarm,
        })
    }
}

pub fn router(state: AppState, body_limit: usize) -> Router {
    Router::new()
        .route("/", get(crate::dashboard::page))
        .route("/dashboard.js", get(crate::dashboard::script))
        .route("/health", get(health))
        .route("/metrics", get(crate::metrics::render))
        .route("/api/events", post(events))
        .route("/api/agents", get(crate::reports::agents))
        .route("/api/overview", get(crate::reports::overview))
        .route("/api/files", get(crate::files::list))
        .route("/api/files/{id}", get(crate::files::one))
        .route(
            "/api/files/{id}/thumbnail.png",
            get(crate::thumbnails::serve),
        )
        .route("/api/alarms", get(crate::alarms::list))
        .route(
            "/api/files/{id}/datacite.json",
            get(crate::exports::file_datacite),
        )
        .route(
            "/api/files/{id}/dublin-core.xml",
            get(crate::exports::file_dublin_core),
        )
        .route(
            "/api/datasets/datacite.json",
            get(crate::exports::dataset_datacite),
        )
        .route(
            "/api/datasets/dublin-core.xml",
            get(crate::exports::dataset_dublin_core),
        )
        .route("/api/qc/trends", get(crate::reports::trends))
        .route("/api/retention", get(crate::reports::retention))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(crate::validate::query_guard))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(crate::headers::security_headers))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    sqlx::query("SELECT 1").execute(&state.db.pool).await?;
    Ok("ok\n")
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such page or endpoint")
}

async fn events(
    State(state): State<AppState>,
    who: Principal,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventAck>, ApiError> {
    let agent = who.writer()?.to_string();
    let body = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let batch: EventBatch = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body is not an event batch: {e}")))?;
    Ok(Json(crate::ingest::ingest(&state, &agent, batch).await?))
}
