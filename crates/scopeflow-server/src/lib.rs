//! The central pipeline server: agents post the events of their journal's outbox, the server
//! keeps a catalog of every file version (state, QC, copies, retention), serves it as JSON, as
//! dashboard pages and as Prometheus metrics. SQLite by default, PostgreSQL for a facility; both
//! through sqlx's `Any` driver so one set of queries serves both.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod alarms;
mod api;
mod auth;
mod catalog;
mod dashboard;
mod db;
mod error;
mod exports;
mod files;
mod headers;
mod ingest;
mod metrics;
mod reports;
mod store;
mod thumbnails;
mod time;
mod totals;
mod validate;

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use db::DEFAULT_DB_FILE;

/// Requests larger than this are refused with 413 (a batch of 500 events with QC documents is
/// well under 1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// `saturation_fraction` above this raises a QC alarm.
pub const DEFAULT_SATURATION_ALARM: f64 = 1e-3;

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// `sqlite://FILE` or `postgres://…`; `None` = SQLite file [`DEFAULT_DB_FILE`] in the working folder.
    pub db: Option<String>,
    /// `HOST:PORT`, e.g. `127.0.0.1:8080`.
    pub listen: String,
    pub body_limit: usize,
    pub saturation_alarm: f64,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            db: None,
            listen: "127.0.0.1:8080".into(),
            body_limit: DEFAULT_BODY_LIMIT,
            saturation_alarm: DEFAULT_SATURATION_ALARM,
        }
    }
}

#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The `--db` value is not a URL this server understands (exit 2).
    #[error("--db {url}: {reason}")]
    BadDbUrl { url: String, reason: String },
    /// The listen address does not parse or cannot be bound (exit 2).
    #[error("--listen {addr}: {reason}")]
    BadListen { addr: String, reason: String },
    /// The database cannot be reached or refused a statement (exit 1).
    #[error("database {url}: {cause}")]
    Db { url: String, cause: sqlx::Error },
    /// Migrations could not be applied (exit 1).
    #[error("database {url}: migration {version}: {cause}")]
    Migration {
        url: String,
        version: i64,
        cause: sqlx::Error,
    },
    /// A command asked for something that makes no sense (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error("server on {addr}: {cause}")]
    Io { addr: String, cause: std::io::Error },
}

impl ServerError {
    /// Whether the CLI should answer "bad usage" (exit 2) rather than "the work failed" (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ServerError::BadDbUrl { .. } | ServerError::BadListen { .. } | ServerError::Usage(_)
        )
    }
}

/// Runs the server until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub async fn serve(opts: ServeOptions) -> Result<(), ServerError> {
    let addr: SocketAddr = opts.listen.parse().map_err(|e| ServerError::BadListen {
        addr: opts.listen.clone(),
        reason: format!("{e} (expected HOST:PORT, e.g. 127.0.0.1:8080)"),
    })?;
    // Open the database first: a wrong URL is reported before the port is taken.
    let state = api::AppState::open(&opts).await?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServerError::BadListen {
            addr: opts.listen.clone(),
            reason: e.to_string(),
        })?;
    tracing::info!(%addr, db = %state.db.url, "scopeflow server listening");
    run(opts.body_limit, listener, state, shutdown_signal()).await
}

/// A server running in this process, for tests and benchmarks: stops when dropped.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ServerError>>>,
}

impl RunningServer {
    /// `http://ADDR`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, waits for requests in flight, returns how the server ended.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens the database (migrating it) and serves on `listener` in a background task.
pub async fn start(
    opts: ServeOptions,
    listener: TcpListener,
) -> Result<RunningServer, ServerError> {
    let addr = listener.local_addr().map_err(|e| ServerError::Io {
        addr: opts.listen.clone(),
        cause: e,
    })?;
    let state = api::AppState::open(&opts).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(opts.body_limit, listener, state, async move {
        let _ = stopped.await;
    }));
    Ok(RunningServer {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Creates a token (agent or viewer), stores its hash, returns the token itself.
pub async fn create_token(
    db: Option<&str>,
    agent: Option<&str>,
    viewer: bool,
) -> Result<String, ServerError> {
    let db = db::Db::open(db).await?;
    auth::create(&db, agent, viewer).await
}

async fn run(
    body_limit: usize,
    listener: TcpListener,
    state: api::AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let db = state.db.clone();
    let app = api::router(state, body_limit);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    db.pool.close().await;
    served.map_err(|cause| ServerError::Io { addr, cause })
}

/// Ctrl-C everywhere, SIGTERM on Unix (systemd's stop).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
