//! A database written by the server before issue 20 was fixed, poisoned the way the issue
//! describes, is repaired by migration 3: every aggregate endpoint answers again.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::AnyPool;

use super::common::{self, Backend, Env, batch, ev};

/// Schema 1–2 (as released before the fix), on the backend of `url`.
async fn old_schema(pool: &AnyPool, sqlite: bool) {
    let migrations = if sqlite {
        [
            include_str!("../../migrations/sqlite/0001_catalog.sql"),
            include_str!("../../migrations/sqlite/0002_search_trigrams.sql"),
        ]
    } else {
        [
            include_str!("../../migrations/postgres/0001_catalog.sql"),
            include_str!("../../migrations/postgres/0002_search_trigrams.sql"),
        ]
    };
    sqlx::raw_sql(
        "CREATE TABLE scopeflow_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    for (i, sql) in migrations.into_iter().enumerate() {
        sqlx::raw_sql(sql).execute(pool).await.unwrap();
        sqlx::query("INSERT INTO scopeflow_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(i as i64 + 1)
            .bind("2026-11-01T00:00:00.000Z")
            .execute(pool)
            .await
            .unwrap();
    }
}

pub async fn poisoned_database_migrates(b: Backend) {
    let (db, dir) = common::fresh_db(b).await;
    let sqlite = db.starts_with("sqlite");
    let url = if sqlite {
        format!("{db}?mode=rwc")
    } else {
        db.clone()
    };
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url).await.unwrap();
    old_schema(&pool, sqlite).await;
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let t = format!("{day}T10:00:00.000Z");
    // What the old server kept of two `found` events of size 2^64−1 (clamped to i64::MAX) and
    // one honest verified file. The sum of the two went past i64::MAX: SQLite turned the total
    // into a float, a release build wrapped it to -2 before PostgreSQL saw it.
    let poison = if sqlite {
        "18446744073709551614.0"
    } else {
        "-2"
    };
    let rows = [
        ("a/big-1.tif", "discovered", 0, "9223372036854775807"),
        ("a/big-2.tif", "discovered", 0, "9223372036854775807"),
        ("a/ok.tif", "verified", 4, "1000"),
    ];
    for (path, state, progress, size) in rows {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO files (agent, watch, path, version, state, progress, progress_at, size, \
             found_at, sort_at, search) VALUES ('scope-1', 'acq', '{path}', 1, '{state}', {progress}, \
             '{t}', {size}, '{t}', '{t}', '{path} scope-1')"
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO state_counts VALUES ('scope-1', 'discovered', 2, {poison}), \
         ('scope-1', 'verified', 1, 1000); \
         INSERT INTO hourly VALUES ('{hour}', 'scope-1', 3, {poison}, 1, 1000); \
         INSERT INTO agents VALUES ('scope-1', 'pc-7', 0, '{t}'); \
         INSERT INTO events SELECT 'e-1', 'scope-1', id, 'found', '{t}', '{{}}', '{t}' FROM files \
         WHERE path = 'a/ok.tif'",
        hour = &t[..13]
    )))
    .execute(&pool)
    .await
    .unwrap();
    if sqlite {
        // Why the old server answered 500: the total no longer reads as an integer.
        let read = sqlx::query_scalar::<_, i64>(
            "SELECT bytes FROM state_counts WHERE state = 'discovered'",
        )
        .fetch_one(&pool)
        .await;
        assert!(read.is_err(), "{read:?}");
    }
    pool.close().await;

    let env = Env::on(db, dir).await;
    super::aggregates_answer(&env).await;
    let a = &env.get("/api/agents").await["agents"][0];
    assert_eq!(
        (a["files"].clone(), a["bytes"].clone()),
        (json!(3), json!(1000)),
        "{a}"
    );
    let o = env.get("/api/overview").await;
    assert_eq!(
        o["states"]["discovered"],
        json!({"files": 2, "bytes": 0}),
        "{o}"
    );
    let h = &o["throughput"][0];
    assert_eq!(
        (h["found_bytes"].clone(), h["verified_bytes"].clone()),
        (json!(0), json!(1000)),
        "{o}"
    );
    let big = env.get("/api/files?q=big-1").await;
    assert_eq!(
        big["files"][0]["size"], 0,
        "out-of-range sizes become unknown"
    );

    let pool = AnyPool::connect(&env.db).await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM scopeflow_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7]);

    // Old events are still known to their agent; ids no longer collide across agents.
    let again = vec![ev("e-1", &t, "a/ok.tif", 1000, "found", json!({}))];
    assert_eq!(env.ingest(&batch("scope-1", again)).await["new"], 0);
    let s2 = env.token("scope-2").await;
    let theirs = vec![ev("e-1", &t, "b/new.tif", 5, "found", json!({}))];
    let (status, ack) = env.post(&s2, &batch("scope-2", theirs)).await;
    assert_eq!((status, ack["new"].clone()), (StatusCode::OK, json!(1)));
    super::aggregates_answer(&env).await;
}
