//! Text search (`q=`) and the detected format, on SQLite (FTS5 trigram index, LIKE for words
//! under 3 characters) and PostgreSQL (LIKE, pg_trgm index): the same answers on both.

#[macro_use]
mod common;

use common::{Backend, Env, batch, ev, qc_doc};
use serde_json::{Value, json};
use sqlx::AnyPool;

on_both_backends!(
    substrings_anywhere_in_any_word,
    short_words_fall_back_to_a_scan,
    query_syntax_is_literal,
    changed_metadata_is_searched_as_it_is_now,
    format_is_shown_and_searchable,
    rows_from_before_the_index_are_found,
);

fn paths(v: &Value) -> Vec<String> {
    let mut p: Vec<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    p.sort();
    p
}

/// Found then processed, with this inspect document's fields over [`qc_doc`]'s.
fn processed(
    id: &str,
    path: &str,
    instrument: &str,
    channels: &[&str],
    extra: Value,
) -> Vec<Value> {
    let ch: Vec<(&str, f64, f64)> = channels.iter().map(|c| (*c, 5.0, 0.0)).collect();
    let mut doc = qc_doc(instrument, "2026-11-20T09:00:00Z", &ch);
    for (k, v) in extra.as_object().unwrap() {
        doc["inspect"][k] = v.clone();
    }
    vec![
        ev(
            &format!("{id}-f"),
            "2026-11-20T10:00:00Z",
            path,
            10,
            "found",
            json!({}),
        ),
        ev(
            &format!("{id}-p"),
            "2026-11-20T10:01:00Z",
            path,
            10,
            "processed",
            json!({"qc": doc}),
        ),
    ]
}

/// The paths `GET /api/files?q=Q` returns, sorted.
async fn found(env: &Env, q: &str) -> Vec<String> {
    paths(&env.get(&format!("/api/files?q={q}")).await)
}

async fn three_files(env: &Env) {
    let mut events = processed(
        "a",
        "alice/run-00017/cells.tif",
        "LSM 980",
        &["DAPI", "GFP"],
        json!({}),
    );
    events.extend(processed(
        "b",
        "bob/tissue_42.czi",
        "Axio Observer",
        &["mCherry"],
        json!({"format": "czi"}),
    ));
    events.extend(processed(
        "c",
        "carol/ab.ims",
        "Dragonfly",
        &["Cy5", "GFP"],
        json!({"format": "imaris"}),
    ));
    env.ingest(&batch("scope-1", events)).await;
}

async fn substrings_anywhere_in_any_word(b: Backend) {
    let env = Env::new(b).await;
    three_files(&env).await;
    assert_eq!(
        found(&env, "00017").await,
        ["alice/run-00017/cells.tif"],
        "inside a path segment"
    );
    assert_eq!(
        found(&env, "ssue").await,
        ["bob/tissue_42.czi"],
        "inside a word"
    );
    assert_eq!(
        found(&env, "MCHERRY").await,
        ["bob/tissue_42.czi"],
        "case-insensitive"
    );
    assert_eq!(
        found(&env, "axio%20obs").await,
        ["bob/tissue_42.czi"],
        "words are ANDed"
    );
    assert_eq!(
        found(&env, "gfp").await,
        ["alice/run-00017/cells.tif", "carol/ab.ims"]
    );
    assert_eq!(found(&env, "gfp%20dragon").await, ["carol/ab.ims"]);
    assert_eq!(
        found(&env, "tissue_42").await,
        ["bob/tissue_42.czi"],
        "_ is literal"
    );
    assert_eq!(
        found(&env, "tissue-42").await,
        Vec::<String>::new(),
        "and not a wildcard"
    );
    assert_eq!(found(&env, "zzzzzz").await, Vec::<String>::new());
}

/// A trigram index cannot answer words of one or two characters: they scan (LIKE), and must
/// still find what LIKE finds.
async fn short_words_fall_back_to_a_scan(b: Backend) {
    let env = Env::new(b).await;
    three_files(&env).await;
    assert_eq!(found(&env, "ab").await, ["carol/ab.ims"]);
    assert_eq!(found(&env, "y5").await, ["carol/ab.ims"]);
    assert_eq!(found(&env, "z").await, Vec::<String>::new());
    assert_eq!(
        found(&env, "42%20ce").await,
        Vec::<String>::new(),
        "a short and a long word, ANDed"
    );
    assert_eq!(found(&env, "42%20tis").await, ["bob/tissue_42.czi"]);
    assert_eq!(
        found(&env, "%25").await,
        Vec::<String>::new(),
        "% is literal"
    );
}

/// Quotes, FTS5 operators and column filters are text to look for, never syntax.
async fn query_syntax_is_literal(b: Backend) {
    let env = Env::new(b).await;
    three_files(&env).await;
    for q in [
        "%22",
        "a%22b",
        "NEAR(gfp",
        "gfp*",
        "-gfp",
        "search:gfp",
        "gfp%20OR",
        "AND",
        "%5E",
        "(",
        "'",
    ] {
        let v = env.get(&format!("/api/files?q={q}")).await;
        assert_eq!(paths(&v), Vec::<String>::new(), "q={q}: {v}");
    }
}

/// The index follows updates: a later `processed` event that changes the instrument replaces
/// the old words, and the old ones stop matching.
async fn changed_metadata_is_searched_as_it_is_now(b: Backend) {
    let env = Env::new(b).await;
    env.ingest(&batch(
        "scope-1",
        processed("a", "dave/x.tif", "Zeiss LSM", &["DAPI"], json!({})),
    ))
    .await;
    assert_eq!(paths(&env.get("/api/files?q=zeiss").await), ["dave/x.tif"]);
    let later = qc_doc("Nikon Ti2", "2026-11-20T09:00:00Z", &[("FITC", 1.0, 0.0)]);
    env.ingest(&batch(
        "scope-1",
        vec![ev(
            "a-p2",
            "2026-11-20T11:00:00Z",
            "dave/x.tif",
            10,
            "processed",
            json!({"qc": later}),
        )],
    ))
    .await;
    assert_eq!(paths(&env.get("/api/files?q=nikon").await), ["dave/x.tif"]);
    assert_eq!(paths(&env.get("/api/files?q=fitc").await), ["dave/x.tif"]);
    assert_eq!(
        paths(&env.get("/api/files?q=zeiss").await),
        Vec::<String>::new()
    );
    assert_eq!(
        paths(&env.get("/api/files?q=dapi").await),
        Vec::<String>::new()
    );
}

async fn format_is_shown_and_searchable(b: Backend) {
    let env = Env::new(b).await;
    three_files(&env).await;
    // An event from an agent that does not send a format (or sends junk) is still accepted.
    let mut old = processed("d", "dave/old.tif", "LSM 980", &["DAPI"], json!({}));
    old[1]["data"]["qc"]["inspect"]
        .as_object_mut()
        .unwrap()
        .remove("format");
    old.extend(processed(
        "e",
        "erin/odd.tif",
        "LSM 980",
        &["DAPI"],
        json!({"format": "<b>x</b>"}),
    ));
    env.ingest(&batch("scope-1", old)).await;
    let files = env.get("/api/files").await;
    let by_path = |p: &str| -> Value {
        files["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()["format"]
            .clone()
    };
    assert_eq!(by_path("alice/run-00017/cells.tif"), "ome-tiff");
    assert_eq!(by_path("bob/tissue_42.czi"), "czi");
    assert_eq!(by_path("carol/ab.ims"), "imaris");
    assert_eq!(by_path("dave/old.tif"), Value::Null);
    assert_eq!(
        by_path("erin/odd.tif"),
        Value::Null,
        "not a format name: not shown"
    );
    let id = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "carol/ab.ims")
        .unwrap()["id"]
        .clone();
    assert_eq!(
        env.get(&format!("/api/files/{id}")).await["format"],
        "imaris"
    );
    assert_eq!(
        paths(&env.get("/api/files?q=imaris").await),
        ["carol/ab.ims"]
    );
}

/// A database written before migration 4: its rows are indexed and get their format when the
/// new server starts on it.
async fn rows_from_before_the_index_are_found(b: Backend) {
    let (db, dir) = common::fresh_db(b).await;
    let sqlite = db.starts_with("sqlite");
    let url = if sqlite {
        format!("{db}?mode=rwc")
    } else {
        db.clone()
    };
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&url).await.unwrap();
    let migrations = if sqlite {
        [
            include_str!("../migrations/sqlite/0001_catalog.sql"),
            include_str!("../migrations/sqlite/0002_search_trigrams.sql"),
            include_str!("../migrations/sqlite/0003_poison_inputs.sql"),
        ]
    } else {
        [
            include_str!("../migrations/postgres/0001_catalog.sql"),
            include_str!("../migrations/postgres/0002_search_trigrams.sql"),
            include_str!("../migrations/postgres/0003_poison_inputs.sql"),
        ]
    };
    sqlx::raw_sql(
        "CREATE TABLE scopeflow_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (i, sql) in migrations.into_iter().enumerate() {
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO scopeflow_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(i as i64 + 1)
            .bind("2026-11-01T00:00:00.000Z")
            .execute(&pool)
            .await
            .unwrap();
    }
    let t = "2026-11-01T10:00:00.000Z";
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO files (id, agent, watch, path, version, state, progress, progress_at, size, \
         found_at, sort_at, search) VALUES (7, 'scope-1', 'acq', 'frank/old-scan.czi', 1, 'processed', 2, \
         '{t}', 10, '{t}', '{t}', 'frank/old-scan.czi lsm 980 frank scope-1'); \
         INSERT INTO file_docs (file_id, inspect, qc) VALUES (7, '{{\"format\": \"czi\"}}', NULL)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let env = Env::on(db, dir).await;
    let found = env.get("/api/files?q=old-sc").await;
    assert_eq!(paths(&found), ["frank/old-scan.czi"]);
    assert_eq!(found["files"][0]["format"], "czi");
    // And the index keeps up with rows written after the migration.
    env.ingest(&batch(
        "scope-1",
        processed("g", "gina/new-scan.tif", "LSM 980", &["DAPI"], json!({})),
    ))
    .await;
    assert_eq!(
        paths(&env.get("/api/files?q=-scan").await),
        ["frank/old-scan.czi", "gina/new-scan.tif"]
    );
}
