//! The conversions' thumbnails: checked on arrival (a PNG, at most [`MAX_SIDE`] pixels a side),
//! kept per file version, served as `GET /api/files/{id}/thumbnail.png`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use sqlx::AssertSqlSafe;

use crate::api::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::store::Tx;

/// Longer side of a thumbnail, as the agents' conversion makes them.
pub const MAX_SIDE: u32 = 256;
/// Base64 characters: a 256 × 256 RGBA PNG that does not compress at all, with room to spare.
pub const MAX_BASE64: usize = 512 * 1024;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn decode(b64: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("not base64: {e}"))
}

/// Whether `b64` is a thumbnail we serve: base64 of a PNG whose header gives both sides in
/// 1..=[`MAX_SIDE`]. The pixels are the browser's to decode; the header is enough to refuse
/// what is not a thumbnail.
pub fn check(b64: &str) -> Result<(), String> {
    if b64.len() > MAX_BASE64 {
        return Err(format!(
            "{} base64 characters, at most {MAX_BASE64}",
            b64.len()
        ));
    }
    let png = decode(b64)?;
    // Signature, then the IHDR chunk: length (4), type (4), width (4), height (4), big-endian.
    if png.len() < 24 || !png.starts_with(PNG_SIGNATURE) || &png[12..16] != b"IHDR" {
        return Err("not a PNG image".into());
    }
    let side = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    let (w, h) = (side(16), side(20));
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(format!(
            "a {w} × {h} PNG: a thumbnail has 1 to {MAX_SIDE} pixels a side"
        ));
    }
    Ok(())
}

/// Stores these thumbnails `(file_id, base64)`, replacing a file's earlier one.
pub async fn store(tx: &mut Tx, pngs: &[(i64, &str)]) -> Result<(), ApiError> {
    // One row per statement: each may be a few hundred KiB.
    for (id, png) in pngs {
        sqlx::query(
            "INSERT INTO thumbnails (file_id, png) VALUES ($1, $2) \
             ON CONFLICT (file_id) DO UPDATE SET png = excluded.png",
        )
        .bind(*id)
        .bind(*png)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// `GET /api/files/{id}/thumbnail.png`: the PNG, or 404 when the file has none.
pub async fn serve(
    State(state): State<AppState>,
    _who: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = crate::files::file_id(&id)?;
    let b64: Option<String> = sqlx::query_scalar("SELECT png FROM thumbnails WHERE file_id = $1")
        .bind(id)
        .fetch_optional(&state.db.pool)
        .await?;
    let b64 = b64.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, format!("no thumbnail for file {id}"))
    })?;
    let png = decode(&b64).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("thumbnail of file {id}: {e}"),
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            // A file version's thumbnail changes only if it is converted again.
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        png,
    ))
}

/// Which of these files have a thumbnail (ids are our own integers: safe to inline).
pub async fn which(state: &AppState, ids: &[i64]) -> Result<Vec<i64>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "SELECT file_id FROM thumbnails WHERE file_id IN ({})",
        list.join(",")
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_all(&state.db.pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_header(w: u32, h: u32) -> String {
        let mut b = PNG_SIGNATURE.to_vec();
        b.extend_from_slice(&13u32.to_be_bytes());
        b.extend_from_slice(b"IHDR");
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, 2, 0, 0, 0]);
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    #[test]
    fn only_small_pngs_pass() {
        assert_eq!(check(&png_header(256, 100)), Ok(()));
        assert!(
            check(&png_header(257, 10))
                .unwrap_err()
                .contains("257 × 10")
        );
        assert!(check(&png_header(0, 10)).is_err());
        assert!(check("not base64!").unwrap_err().contains("base64"));
        let gif = base64::engine::general_purpose::STANDARD.encode(b"GIF89a......................");
        assert_eq!(check(&gif).unwrap_err(), "not a PNG image");
        assert!(check(&"A".repeat(MAX_BASE64 + 4)).is_err());
    }
}
