//! Bearer tokens: one per agent (may post its own events, may read) or viewer (read only).
//! Only the SHA-256 of a token is stored: tokens are 32 random bytes, so a plain hash is enough
//! (no password stretching needed), and a stolen database gives no usable token.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::ServerError;
use crate::api::AppState;
use crate::db::Db;
use crate::error::ApiError;

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The agent an agent token writes for; `None` for a viewer token.
    pub agent: Option<String>,
}

impl Principal {
    /// The agent a write is allowed for, or 403.
    pub fn writer(&self) -> Result<&str, ApiError> {
        self.agent.as_deref().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "viewer tokens may only read: this needs an agent token",
            )
        })
    }
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub async fn create(db: &Db, agent: Option<&str>, viewer: bool) -> Result<String, ServerError> {
    let agent = if viewer { None } else { agent };
    if !viewer && agent.is_none_or(|a| a.trim().is_empty()) {
        return Err(ServerError::Usage(
            "a token needs --agent NAME or --viewer".into(),
        ));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Io {
        addr: db.url.clone(),
        cause: std::io::Error::other(format!("no random source for the token: {e}")),
    })?;
    let token = format!("sf_{}", hex::encode(bytes));
    sqlx::query("INSERT INTO tokens (hash, agent, viewer, created_at) VALUES ($1, $2, $3, $4)")
        .bind(hash(&token))
        .bind(agent)
        .bind(i64::from(viewer))
        .bind(crate::time::now())
        .execute(&db.pool)
        .await
        .map_err(|cause| ServerError::Db {
            url: db.url.clone(),
            cause,
        })?;
    Ok(token)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer TOKEN"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("Authorization must be: Bearer TOKEN"))?;
        let row = sqlx::query("SELECT agent, viewer FROM tokens WHERE hash = $1")
            .bind(hash(token))
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or_else(|| unauthorized("unknown token"))?;
        let viewer: i64 = row.try_get("viewer")?;
        let agent: Option<String> = row.try_get("agent")?;
        Ok(Principal {
            agent: if viewer != 0 { None } else { agent },
        })
    }
}
