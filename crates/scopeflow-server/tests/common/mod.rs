//! What every server test needs: a fresh database on either backend, the server started in
//! this process on 127.0.0.1:0, tokens, and helpers to build event batches.
#![allow(dead_code)]

pub mod postgres;

use reqwest::{Client, StatusCode};
use scopeflow_server::{RunningServer, ServeOptions};
use serde_json::{Value, json};

/// One test per backend: `mod sqlite { fn NAME }` and `mod postgres { fn NAME }` calling
/// `NAME(Backend)`; the PostgreSQL ones do nothing when PostgreSQL is skipped on purpose.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if super::common::enabled(super::Backend::Postgres) {
                    super::$name(super::Backend::Postgres).await
                }
            })*
        }
    };
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether the tests of this backend should run (PostgreSQL ones may be skipped on purpose).
pub fn enabled(backend: Backend) -> bool {
    match backend {
        Backend::Sqlite => true,
        Backend::Postgres => std::env::var("SCOPEFLOW_SKIP_POSTGRES").as_deref() != Ok("1"),
    }
}

pub struct Env {
    pub server: Option<RunningServer>,
    pub base: String,
    pub db: String,
    pub agent: String,
    pub viewer: String,
    pub http: Client,
    _dir: Option<tempfile::TempDir>,
}

/// A database URL nobody used yet.
pub async fn fresh_db(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("server.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => (postgres::fresh_database().await, None),
    }
}

pub async fn start_on(db: &str) -> RunningServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = ServeOptions {
        db: Some(db.to_string()),
        listen: "127.0.0.1:0".into(),
        body_limit: 1024 * 1024,
        ..ServeOptions::default()
    };
    scopeflow_server::start(opts, listener)
        .await
        .unwrap_or_else(|e| panic!("server on {db}: {e}"))
}

impl Env {
    /// A server on a fresh database with an agent token for `scope-1` and a viewer token.
    pub async fn new(backend: Backend) -> Env {
        let (db, dir) = fresh_db(backend).await;
        Env::on(db, dir).await
    }

    /// The same on an existing database (`dir` keeps a SQLite file's folder alive).
    pub async fn on(db: String, dir: Option<tempfile::TempDir>) -> Env {
        let agent = scopeflow_server::create_token(Some(&db), Some("scope-1"), false)
            .await
            .unwrap();
        let viewer = scopeflow_server::create_token(Some(&db), None, true)
            .await
            .unwrap();
        let server = start_on(&db).await;
        Env {
            base: server.url(),
            server: Some(server),
            db,
            agent,
            viewer,
            http: Client::new(),
            _dir: dir,
        }
    }

    pub async fn token(&self, agent: &str) -> String {
        scopeflow_server::create_token(Some(&self.db), Some(agent), false)
            .await
            .unwrap()
    }

    /// Posts a batch with `token`; returns the status and the JSON body.
    pub async fn post(&self, token: &str, batch: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/api/events", self.base))
            .bearer_auth(token)
            .json(batch)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Posts and expects 200.
    pub async fn ingest(&self, batch: &Value) -> Value {
        let (status, body) = self.post(&self.agent, batch).await;
        assert_eq!(status, StatusCode::OK, "POST /api/events: {body}");
        body
    }

    /// GET with the viewer token; expects 200 and JSON.
    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.viewer)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// GET with the viewer token: the status and the body as text (XML, or an error).
    pub async fn text_as_viewer(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.viewer)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn text(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
        let server = start_on(&self.db).await;
        self.base = server.url();
        self.server = Some(server);
    }
}

pub fn batch(agent: &str, events: Vec<Value>) -> Value {
    json!({"agent": agent, "host": "pc-7", "queue": 3, "events": events})
}

/// One event about version 1 of `path` in watch `acq`.
pub fn ev(id: &str, at: &str, path: &str, size: u64, kind: &str, data: Value) -> Value {
    json!({
        "id": id, "at": at,
        "file": {"watch": "acq", "path": path, "version": 1, "sha256": null, "size": size},
        "kind": kind, "data": data,
    })
}

/// The QC document the agent sends with `processed`.
pub fn qc_doc(instrument: &str, acquired_at: &str, channels: &[(&str, f64, f64)]) -> Value {
    json!({
        "inspect": {
            "format": "ome-tiff", "axes": "CZYX", "shape": [channels.len(), 5, 64, 64],
            "dtype": "uint16", "physical_sizes": {"x": 0.1, "y": 0.1, "z": 0.5},
            "physical_unit": "micrometer",
            "channel_names": channels.iter().map(|c| c.0).collect::<Vec<_>>(),
            "acquired_at": acquired_at, "instrument": instrument, "metadata": {},
        },
        "qc": {"channels": channels.iter().enumerate().map(|(i, c)| json!({
            "index": i, "name": c.0, "snr": c.1, "saturation_fraction": c.2,
            "otsu_threshold": 100.0, "min": 0, "max": 65535, "mean": 120.0,
        })).collect::<Vec<_>>()},
        "sha256": "ab".repeat(32),
    })
}

/// The full life of one file: found, processed (with QC), copied to `nas`, verified.
pub fn lifecycle(
    prefix: &str,
    path: &str,
    size: u64,
    instrument: &str,
    acquired: &str,
    channels: &[(&str, f64, f64)],
    day: &str,
) -> Vec<Value> {
    vec![
        ev(
            &format!("{prefix}-1"),
            &format!("{day}T10:00:00Z"),
            path,
            size,
            "found",
            json!({}),
        ),
        ev(
            &format!("{prefix}-2"),
            &format!("{day}T10:01:00Z"),
            path,
            size,
            "processed",
            json!({"qc": qc_doc(instrument, acquired, channels)}),
        ),
        ev(
            &format!("{prefix}-3"),
            &format!("{day}T10:02:00Z"),
            path,
            size,
            "copy_verified",
            json!({"destination": "nas", "verified_at": format!("{day}T10:02:00Z")}),
        ),
        ev(
            &format!("{prefix}-4"),
            &format!("{day}T10:03:00Z"),
            path,
            size,
            "verified",
            json!({}),
        ),
    ]
}
