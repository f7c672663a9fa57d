//! The dashboard: one HTML shell and one script, both compiled into the binary (the machines
//! running the server often have no internet, so nothing comes from a CDN). The shell is public;
//! the script reads the API with a viewer token the user gives once (kept in localStorage).

use axum::http::header;
use axum::response::{Html, IntoResponse};

/// Scripts only from this server: a file path that slipped through escaping still cannot run code.
/// Thumbnails are fetched with the viewer token and shown from `blob:` URLs (an `<img src>` cannot
/// send the token). Never framed (clickjacking); the other security headers come from [`crate::headers`].
const CSP: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn page() -> impl IntoResponse {
    (
        [(header::CONTENT_SECURITY_POLICY, CSP)],
        Html(include_str!("../assets/dashboard.html")),
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/dashboard.js"),
    )
}
