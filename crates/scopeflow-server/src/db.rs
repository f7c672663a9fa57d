//! Opening the database named by `--db` and bringing its schema up to date.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};

use crate::ServerError;

/// Where the catalog lives when `--db` is absent (relative to the working folder).
pub const DEFAULT_DB_FILE: &str = "scopeflow-server.db";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One migration per backend folder; dialects differ only where they must (row ids).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_catalog.sql"),
        include_str!("../migrations/postgres/0001_catalog.sql"),
    ),
    (
        2,
        include_str!("../migrations/sqlite/0002_search_trigrams.sql"),
        include_str!("../migrations/postgres/0002_search_trigrams.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_poison_inputs.sql"),
        include_str!("../migrations/postgres/0003_poison_inputs.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_search_fts_format.sql"),
        include_str!("../migrations/postgres/0004_search_fts_format.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_alarms_thumbnails.sql"),
        include_str!("../migrations/postgres/0005_alarms_thumbnails.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_file_metadata.sql"),
        include_str!("../migrations/postgres/0006_file_metadata.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_modified_at.sql"),
        include_str!("../migrations/postgres/0007_modified_at.sql"),
    ),
];

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    /// The URL without its password, for messages.
    pub url: String,
    pub backend: Backend,
}

impl Db {
    /// Connects (creating a SQLite file if needed) and applies missing migrations.
    pub async fn open(url: Option<&str>) -> Result<Db, ServerError> {
        sqlx::any::install_default_drivers();
        let raw = url.unwrap_or(DEFAULT_DB_FILE);
        let (backend, connect_url) = parse_url(raw)?;
        let shown = redact(raw);
        let db_err = |cause| ServerError::Db {
            url: shown.clone(),
            cause,
        };
        let options = AnyPoolOptions::new();
        let pool = match backend {
            // One writer at a time anyway (ingest takes a lock); a few readers for the API.
            // A big page cache and memory-mapped reads: the indexes of a million files are
            // touched at random by every batch. Each batch dirties a few thousand pages of
            // those indexes, more than SQLite's default WAL checkpoint threshold (1,000
            // pages): every commit copied its pages back into the database. A 128 MB WAL lets
            // a page changed by several batches be copied back once (ingest up to a million
            // files: 4,405 -> 5,248 events/s; BENCHMARKS.md).
            Backend::Sqlite => options
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::raw_sql("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -131072; PRAGMA mmap_size = 1073741824; PRAGMA wal_autocheckpoint = 32768;")
                            .execute(&mut *conn)
                            .await?;
                        Ok(())
                    })
                })
                .connect(&connect_url)
                .await
                .map_err(db_err)?,
            Backend::Postgres => {
                // One plain connection first: the pool would only say "timed out" where this
                // says "connection refused" or "password authentication failed".
                sqlx::AnyConnection::connect(&connect_url)
                    .await
                    .map_err(db_err)?
                    .close()
                    .await
                    .map_err(db_err)?;
                options
                .max_connections(8)
                .acquire_timeout(std::time::Duration::from_secs(10))
                .connect(&connect_url)
                .await
                .map_err(db_err)?
            }
        };
        if backend == Backend::Sqlite {
            // WAL is a property of the file: readers of the dashboard never block the ingest.
            sqlx::raw_sql("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(db_err)?;
        }
        let db = Db {
            pool,
            url: shown,
            backend,
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), ServerError> {
        let db_err = |cause| ServerError::Db {
            url: self.url.clone(),
            cause,
        };
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS scopeflow_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        for &(version, sqlite, postgres) in MIGRATIONS {
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM scopeflow_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_err)?;
            if done.is_some() {
                continue;
            }
            let sql = match self.backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            let mig_err = |cause| ServerError::Migration {
                url: self.url.clone(),
                version,
                cause,
            };
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(mig_err)?;
            sqlx::query("INSERT INTO scopeflow_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(crate::time::now())
                .execute(&mut *tx)
                .await
                .map_err(mig_err)?;
            tx.commit().await.map_err(mig_err)?;
            tracing::info!(version, db = %self.url, "migration applied");
        }
        Ok(())
    }
}

/// `sqlite://FILE`, `sqlite:FILE`, a bare file name, or `postgres(ql)://…`.
fn parse_url(raw: &str) -> Result<(Backend, String), ServerError> {
    let bad = |reason: &str| ServerError::BadDbUrl {
        url: redact(raw),
        reason: reason.to_string(),
    };
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        return Ok((Backend::Postgres, raw.to_string()));
    }
    let file = if let Some(rest) = raw.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = raw.strip_prefix("sqlite:") {
        rest
    } else if raw.contains("://") {
        return Err(bad(
            "unknown scheme: use sqlite://FILE or postgres://USER@HOST:PORT/DB",
        ));
    } else {
        raw
    };
    let (path, query) = file.split_once('?').unwrap_or((file, ""));
    if path.is_empty() {
        return Err(bad("no file name after sqlite://"));
    }
    if query.contains("mode=") {
        return Ok((Backend::Sqlite, format!("sqlite://{file}")));
    }
    let sep = if query.is_empty() { "?" } else { "&" };
    Ok((Backend::Sqlite, format!("sqlite://{file}{sep}mode=rwc")))
}

/// Hides the password of `postgres://user:password@host/db`.
fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return raw.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("sqlite://x.db").unwrap(),
            (Backend::Sqlite, "sqlite://x.db?mode=rwc".into())
        );
        assert_eq!(
            parse_url("plain.db").unwrap(),
            (Backend::Sqlite, "sqlite://plain.db?mode=rwc".into())
        );
        assert_eq!(parse_url("postgres://u@h/d").unwrap().0, Backend::Postgres);
        assert!(parse_url("mysql://u@h/d").unwrap_err().is_usage());
        assert!(parse_url("sqlite://").is_err());
        assert_eq!(redact("postgres://u:secret@h/d"), "postgres://u:***@h/d");
    }
}
