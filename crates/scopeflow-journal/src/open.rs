//! Opening the journal: the SQLite settings that make a commit durable, and the schema.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqlSafeStr, Sqlite, Transaction};

use crate::error::JournalError;
use crate::model::{FILE_COLUMNS, FileRow, file_from_row};

/// The files of `migrations/`, embedded. Listed by hand rather than through `sqlx::migrate!`,
/// which needs sqlx's `macros` feature and so a second build of sqlx and SQLite for the host;
/// the versions, descriptions and checksums are the ones `migrate!` and the `sqlx` CLI compute,
/// and a test checks this list against the folder.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "journal", include_str!("../migrations/0001_journal.sql")),
    (2, "events", include_str!("../migrations/0002_events.sql")),
    (
        3,
        "retention",
        include_str!("../migrations/0003_retention.sql"),
    ),
    (
        4,
        "processing_rejected",
        include_str!("../migrations/0004_processing_rejected.sql"),
    ),
    (5, "alarms", include_str!("../migrations/0005_alarms.sql")),
    (
        6,
        "server_alarms_thumbnails",
        include_str!("../migrations/0006_server_alarms_thumbnails.sql"),
    ),
    (
        7,
        "format_column",
        include_str!("../migrations/0007_format_column.sql"),
    ),
    (
        8,
        "qc_documents_table",
        include_str!("../migrations/0008_qc_documents_table.sql"),
    ),
];

fn migrator() -> Migrator {
    migrator_of(MIGRATIONS)
}

/// The first migrations only: tests build journals as an older version left them.
fn migrator_of(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        migrations
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Writers queue behind each other (SQLite has one writer at a time) for at most this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A handle on one journal file; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Journal {
    pub(crate) pool: SqlitePool,
    pub(crate) path: Arc<PathBuf>,
}

impl Journal {
    /// Opens the journal at `path`, creating it and its parent folders if missing, and brings
    /// its schema up to date. Safe to call from several processes at once.
    pub async fn open(path: &Path) -> Result<Journal, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| JournalError::CreateDir {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // FULL: the WAL is fsync'd at every commit, so a committed state survives a power
            // cut (NORMAL, the usual WAL choice, may lose the last commits).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // sqlx warns on stderr about any statement over 1 s: `status` of 100,000 files is
            // one such statement by design, and an operator's terminal is no place for SQL.
            .disable_statement_logging();
        let err = |source| JournalError::Db {
            path: Arc::new(path.to_path_buf()),
            source,
        };
        enable_wal(&options, path).await?;
        // The pool's connections do not ask for WAL again: the mode is stored in the file, and
        // asking takes a lock that `busy_timeout` does not wait for.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(err)?;
        migrate(&pool, path).await?;
        Ok(Journal {
            pool,
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The journal file this handle writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for every connection to close, which checkpoints the WAL into the main file.
    /// Not needed for durability (every commit already is); useful before copying the file.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn db(&self, source: sqlx::Error) -> JournalError {
        JournalError::Db {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn corrupt(&self, what: String) -> JournalError {
        JournalError::Corrupt {
            path: self.path.clone(),
            what,
        }
    }

    /// A write transaction that holds SQLite's write lock from its first statement. A plain
    /// (deferred) `BEGIN` that reads then writes fails at once with `SQLITE_BUSY` if another
    /// process committed in between; `IMMEDIATE` waits up to `busy_timeout` instead.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>, JournalError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.db(e))
    }

    pub(crate) fn file(&self, row: &SqliteRow) -> Result<FileRow, JournalError> {
        file_from_row(row).map_err(|e| self.corrupt(e))
    }

    /// The row `id` inside `tx`, or `NotFound`.
    pub(crate) async fn file_in(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        id: i64,
    ) -> Result<FileRow, JournalError> {
        let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.db(e))?
            .ok_or(JournalError::NotFound { id })?;
        self.file(&row)
    }
}

/// Switches the file to WAL, which lets readers (status, retention) run beside the agent's
/// writes. Switching needs an exclusive lock that `busy_timeout` does not wait for, so a busy
/// database is retried here for as long as a write would wait.
async fn enable_wal(options: &SqliteConnectOptions, path: &Path) -> Result<(), JournalError> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match set_wal(options).await {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(JournalError::NoWal {
                    path: path.to_path_buf(),
                    mode,
                });
            }
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(source) => {
                return Err(JournalError::Db {
                    path: Arc::new(path.to_path_buf()),
                    source,
                });
            }
        }
    }
}

async fn set_wal(options: &SqliteConnectOptions) -> Result<String, sqlx::Error> {
    let mut conn = options
        .clone()
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(mode)
}

/// `SQLITE_BUSY` or `SQLITE_LOCKED`, plain or extended (the low byte is the primary code).
fn is_busy(e: &sqlx::Error) -> bool {
    let Some(db) = e.as_database_error() else {
        return false;
    };
    db.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Runs the migrations, retrying once: sqlx's SQLite migrator takes no lock, so when two
/// processes open a new journal together one of them loses the race on `_sqlx_migrations`;
/// on the second pass it finds the migration applied (and checks its checksum).
async fn migrate(pool: &SqlitePool, path: &Path) -> Result<(), JournalError> {
    let migrator = migrator();
    let mut retries = 2;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(_) if retries > 0 => {
                retries -= 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(source) => {
                return Err(JournalError::Migrate {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Journal, MIGRATIONS, migrator_of};

    /// A journal written before the QC documents left `files` (migration 8) keeps each
    /// document, and the next `processed` event still carries its file's own.
    #[tokio::test]
    async fn qc_documents_survive_leaving_the_files_table() {
        use sqlx::ConnectOptions;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        migrator_of(&MIGRATIONS[..7]).run(&mut conn).await.unwrap();
        for (rel, state, qc) in [
            (
                "a.tif",
                "verified",
                Some(r#"{"inspect":{"format":"tiff"},"n":1}"#),
            ),
            ("b.tif", "stable", None),
        ] {
            sqlx::query(
                "INSERT INTO files (watch, rel, version, size, mtime_ns, state, discovered_at, \
                 updated_at, qc) VALUES ('w', ?, 1, 1, 0, ?, 't', 't', ?)",
            )
            .bind(rel)
            .bind(state)
            .bind(qc)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        drop(conn);

        let j = Journal::open(&path).await.unwrap();
        let docs: Vec<(i64, String)> = sqlx::query_as("SELECT file_id, doc FROM qc_documents")
            .fetch_all(&j.pool)
            .await
            .unwrap();
        assert_eq!(
            docs,
            [(1, r#"{"inspect":{"format":"tiff"},"n":1}"#.to_owned())]
        );
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('files')")
                .fetch_all(&j.pool)
                .await
                .unwrap();
        assert!(!columns.iter().any(|c| c == "qc"), "{columns:?}");

        let sha = "ab".repeat(32);
        j.mark_processed(2, &sha, Some(r#"{"inspect":{"format":"czi"}}"#))
            .await
            .unwrap();
        let event: String = sqlx::query_scalar(
            "SELECT payload FROM outbox WHERE kind = 'processed' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(&j.pool)
        .await
        .unwrap();
        let event: serde_json::Value = serde_json::from_str(&event).unwrap();
        assert_eq!(event["data"]["qc"]["inspect"]["format"], "czi", "{event}");
        assert_eq!(event["file"]["path"], "b.tif");
        j.close().await;
    }

    /// The settings durability rests on, as every pooled connection sees them.
    #[tokio::test]
    async fn connections_are_wal_full_sync_with_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("state.db")).await.unwrap();
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(j.pool.acquire().await.unwrap());
        }
        for c in &mut conns {
            let int = async |c: &mut sqlx::SqliteConnection, pragma: &'static str| -> i64 {
                sqlx::query_scalar(pragma).fetch_one(c).await.unwrap()
            };
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **c)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            assert_eq!(int(c, "PRAGMA synchronous").await, 2, "FULL");
            assert_eq!(int(c, "PRAGMA busy_timeout").await, 5000);
            assert_eq!(int(c, "PRAGMA foreign_keys").await, 1);
        }
    }

    /// `sqlx::migrate!` would pick up a new file by itself; this list must be told.
    #[test]
    fn every_migration_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                std::path::Path::new(n)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
            })
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|(v, d, _)| format!("{v:04}_{d}.sql"))
            .collect();
        assert_eq!(files, listed);
        for (name, (_, _, sql)) in files.iter().zip(MIGRATIONS) {
            assert_eq!(&std::fs::read_to_string(dir.join(name)).unwrap(), sql);
        }
    }
}
