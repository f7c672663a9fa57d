//! The server's HTTP contract, each test run once on SQLite and once on a real PostgreSQL.

#[macro_use]
mod common;

use common::{Backend, Env, batch, ev, lifecycle};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    ingest_is_idempotent,
    out_of_order_events_never_move_back,
    auth_rules,
    bad_json_is_400_with_reason,
    oversized_body_is_413,
    filters_and_text_search,
    one_file_with_metadata,
    qc_trends_and_alarms,
    retention_summary,
    metrics_text,
    agents_and_heartbeat,
    migrations_on_fresh_and_existing_db,
);

const DAPI_GFP: &[(&str, f64, f64)] = &[("DAPI", 25.0, 0.0), ("GFP", 6.5, 2e-3)];

async fn ingest_is_idempotent(b: Backend) {
    let env = Env::new(b).await;
    let events = lifecycle(
        "a",
        "alice/cells.tif",
        1000,
        "LSM 980",
        "2026-11-20T09:00:00Z",
        DAPI_GFP,
        "2026-11-20",
    );
    let first = env.ingest(&batch("scope-1", events.clone())).await;
    assert_eq!(first["new"], 4);
    assert_eq!(first["accepted"], json!(["a-1", "a-2", "a-3", "a-4"]));
    let again = env.ingest(&batch("scope-1", events)).await;
    assert_eq!(again["new"], 0, "a resent batch changes nothing");
    assert_eq!(again["accepted"], first["accepted"]);
    let files = env.get("/api/files").await;
    let files = files["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f["state"], "verified");
    assert_eq!(f["path"], "alice/cells.tif");
    assert_eq!(f["agent"], "scope-1");
    assert_eq!(f["size"], 1000);
    assert_eq!(f["sha256"], "ab".repeat(32));
    assert_eq!(f["acquired_at"], "2026-11-20T09:00:00.000Z");
    assert_eq!(f["qc"]["channels"][1]["name"], "GFP");
    assert_eq!(
        f["copies"],
        json!([{"destination": "nas", "verified_at": "2026-11-20T10:02:00.000Z", "error": null}])
    );
    let agents = env.get("/api/agents").await;
    assert_eq!(agents["agents"][0]["files"], 1, "counted once: {agents}");
}

async fn out_of_order_events_never_move_back(b: Backend) {
    let env = Env::new(b).await;
    let p = "bob/late.tif";
    let day = "2026-11-21";
    let all = lifecycle(
        "o",
        p,
        500,
        "Spinning disk",
        "2026-11-21T08:00:00Z",
        DAPI_GFP,
        day,
    );
    // The newest first, then the older ones in a later (retried) batch.
    env.ingest(&batch("scope-1", vec![all[3].clone()])).await;
    env.ingest(&batch(
        "scope-1",
        vec![all[0].clone(), all[1].clone(), all[2].clone()],
    ))
    .await;
    let f = &env.get("/api/files").await["files"][0];
    assert_eq!(
        f["state"], "verified",
        "older events do not undo verified: {f}"
    );
    assert_eq!(
        f["instrument"], "Spinning disk",
        "the late processed event still brings its QC"
    );
    // A failure older than the last progress is history, not the current state.
    env.ingest(&batch(
        "scope-1",
        vec![ev(
            "o-old-fail",
            "2026-11-21T10:02:30Z",
            p,
            500,
            "failed",
            json!({"error": "old", "attempts": 1}),
        )],
    ))
    .await;
    assert_eq!(env.get("/api/files").await["files"][0]["state"], "verified");
    // A newer failure shows, with its error, and counts as failed for the agent.
    env.ingest(&batch(
        "scope-1",
        vec![ev(
            "o-fail",
            "2026-11-21T11:00:00Z",
            p,
            500,
            "failed",
            json!({"error": "nas: disk full", "attempts": 2}),
        )],
    ))
    .await;
    let f = &env.get("/api/files").await["files"][0];
    assert_eq!(f["state"], "failed");
    assert_eq!(f["error"], "nas: disk full");
    assert_eq!(env.get("/api/agents").await["agents"][0]["failed"], 1);
    // A later success clears it.
    env.ingest(&batch(
        "scope-1",
        vec![ev(
            "o-ok",
            "2026-11-21T12:00:00Z",
            p,
            500,
            "verified",
            json!({}),
        )],
    ))
    .await;
    assert_eq!(env.get("/api/files").await["files"][0]["state"], "verified");
    let agent = &env.get("/api/agents").await["agents"][0];
    assert_eq!(
        (agent["files"].clone(), agent["failed"].clone()),
        (json!(1), json!(0)),
        "{agent}"
    );
    // Out-of-order quarantine then purge: purge is newer, so purged wins.
    env.ingest(&batch(
        "scope-1",
        vec![
            ev(
                "o-purge",
                "2026-11-22T12:00:00Z",
                p,
                500,
                "purged",
                json!({"mode": "trash"}),
            ),
            ev(
                "o-q",
                "2026-11-22T11:00:00Z",
                p,
                500,
                "quarantined",
                json!({"error": "x"}),
            ),
        ],
    ))
    .await;
    assert_eq!(env.get("/api/files").await["files"][0]["state"], "purged");
}

async fn auth_rules(b: Backend) {
    let env = Env::new(b).await;
    let body = batch("scope-1", vec![]);
    let url = format!("{}/api/events", env.base);
    let r = env.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.json::<serde_json::Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
    assert_eq!(
        env.post("sf_not_a_token", &body).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, err) = env.post(&env.viewer, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewer tokens only read");
    assert!(err["error"].as_str().unwrap().contains("viewer"));
    let other = env.token("scope-2").await;
    let (status, err) = env.post(&other, &body).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a token writes for its own agent only"
    );
    assert!(err["error"].as_str().unwrap().contains("scope-2"), "{err}");
    for path in [
        "/api/files",
        "/api/agents",
        "/api/retention",
        "/api/qc/trends",
        "/api/files/1",
    ] {
        let r = env
            .http
            .get(format!("{}{path}", env.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // Agent tokens may read too; viewers read.
    let r = env
        .http
        .get(format!("{}/api/files", env.base))
        .bearer_auth(&env.agent)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    env.get("/api/files").await;
    for path in ["/", "/health", "/metrics"] {
        assert_eq!(env.text(path).await.0, StatusCode::OK, "{path} is public");
    }
}

async fn bad_json_is_400_with_reason(b: Backend) {
    let env = Env::new(b).await;
    let send = |body: &'static str| {
        env.http
            .post(format!("{}/api/events", env.base))
            .bearer_auth(&env.agent)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = send("{\"agent\": ").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("line 1"), "{e}");
    let r = send("{\"agent\": \"scope-1\"}").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("events"), "{e}");
    let bad_time = batch(
        "scope-1",
        vec![ev("t1", "yesterday", "a.tif", 1, "found", json!({}))],
    );
    let (status, e) = env.post(&env.agent, &bad_time).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"].as_str().unwrap().contains("t1"),
        "names the event: {e}"
    );
    // Nothing of a refused batch was kept.
    assert_eq!(env.get("/api/files").await["files"], json!([]));
    let r = env
        .http
        .get(format!("{}/api/files?state=lost", env.base))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn oversized_body_is_413(b: Backend) {
    let env = Env::new(b).await;
    // The test server's limit is 1 MiB.
    let big = "x".repeat(2 * 1024 * 1024);
    let body = batch(
        "scope-1",
        vec![ev(
            "big",
            "2026-11-20T10:00:00Z",
            &big,
            1,
            "found",
            json!({}),
        )],
    );
    let (status, e) = env.post(&env.agent, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert!(e["error"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    assert_eq!(env.get("/api/files").await["files"], json!([]));
}

async fn filters_and_text_search(b: Backend) {
    let env = Env::new(b).await;
    let s2 = env.token("scope-2").await;
    let mut events = lifecycle(
        "f1",
        "alice/2026/cells.tif",
        100,
        "LSM 980",
        "2026-11-01T09:00:00Z",
        DAPI_GFP,
        "2026-11-01",
    );
    events.extend(lifecycle(
        "f2",
        "bob/tissue.tif",
        200,
        "Spinning disk",
        "2026-11-05T09:00:00Z",
        &[("mCherry", 9.0, 0.0)],
        "2026-11-05",
    ));
    events.push(ev(
        "f3",
        "2026-11-06T10:00:00Z",
        "alice/new.tif",
        300,
        "found",
        json!({}),
    ));
    env.ingest(&batch("scope-1", events)).await;
    let other = lifecycle(
        "g1",
        "carol/x.tif",
        400,
        "LSM 980",
        "2026-11-03T09:00:00Z",
        DAPI_GFP,
        "2026-11-03",
    );
    assert_eq!(
        env.post(&s2, &batch("scope-2", other)).await.0,
        StatusCode::OK
    );

    let paths = |v: serde_json::Value| -> Vec<String> {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    // Newest first (acquired_at, or found time when unknown).
    assert_eq!(
        paths(env.get("/api/files").await),
        [
            "alice/new.tif",
            "bob/tissue.tif",
            "carol/x.tif",
            "alice/2026/cells.tif"
        ]
    );
    assert_eq!(
        paths(env.get("/api/files?agent=scope-2").await),
        ["carol/x.tif"]
    );
    assert_eq!(
        paths(env.get("/api/files?state=discovered").await),
        ["alice/new.tif"]
    );
    assert_eq!(
        paths(env.get("/api/files?instrument=LSM%20980").await),
        ["carol/x.tif", "alice/2026/cells.tif"]
    );
    assert_eq!(
        paths(env.get("/api/files?q=mcherry").await),
        ["bob/tissue.tif"],
        "channel names"
    );
    assert_eq!(
        paths(env.get("/api/files?q=ALICE").await),
        ["alice/new.tif", "alice/2026/cells.tif"],
        "user"
    );
    assert_eq!(
        paths(env.get("/api/files?q=spinning").await),
        ["bob/tissue.tif"],
        "instrument"
    );
    assert_eq!(
        paths(env.get("/api/files?q=gfp%20alice").await),
        ["alice/2026/cells.tif"],
        "all words"
    );
    assert_eq!(
        paths(env.get("/api/files?q=100%25").await),
        Vec::<String>::new(),
        "% is literal"
    );
    assert_eq!(
        paths(
            env.get("/api/files?from=2026-11-02&to=2026-11-05T12:00:00Z")
                .await
        ),
        ["bob/tissue.tif", "carol/x.tif"]
    );
    assert_eq!(
        paths(env.get("/api/files?limit=2&offset=1").await),
        ["bob/tissue.tif", "carol/x.tif"]
    );
    let r = env
        .http
        .get(format!("{}/api/files?from=last-week", env.base))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn one_file_with_metadata(b: Backend) {
    let env = Env::new(b).await;
    let mut events = lifecycle(
        "h",
        "alice/one.tif",
        4096,
        "LSM 980",
        "2026-11-10T08:00:00Z",
        DAPI_GFP,
        "2026-11-10",
    );
    events.push(ev(
        "h-5",
        "2026-11-10T10:05:00Z",
        "alice/one.tif",
        4096,
        "copy_verified",
        json!({"destination": "archive", "verified_at": "2026-11-10T10:05:00Z"}),
    ));
    env.ingest(&batch("scope-1", events)).await;
    let id = env.get("/api/files").await["files"][0]["id"]
        .as_i64()
        .unwrap();
    let f = env.get(&format!("/api/files/{id}")).await;
    assert_eq!(f["path"], "alice/one.tif");
    assert_eq!(f["inspect"]["axes"], "CZYX");
    assert_eq!(f["inspect"]["channel_names"], json!(["DAPI", "GFP"]));
    assert_eq!(f["qc"]["channels"][0]["snr"], 25.0);
    assert_eq!(f["channels"], json!(["DAPI", "GFP"]));
    assert_eq!(f["user"], "alice");
    let dests: Vec<&str> = f["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["destination"].as_str().unwrap())
        .collect();
    assert_eq!(dests, ["archive", "nas"]);
    let kinds: Vec<&str> = f["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "found",
            "processed",
            "copy_verified",
            "verified",
            "copy_verified"
        ]
    );
    let r = env
        .http
        .get(format!("{}/api/files/{}", env.base, id + 100))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = env
        .http
        .get(format!("{}/api/files/abc", env.base))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn qc_trends_and_alarms(b: Backend) {
    let env = Env::new(b).await;
    let mut events = lifecycle(
        "q1",
        "a/1.tif",
        10,
        "LSM 980",
        "2026-11-01T09:00:00Z",
        &[("DAPI", 20.0, 0.0), ("GFP", 8.0, 0.0)],
        "2026-11-01",
    );
    events.extend(lifecycle(
        "q2",
        "a/2.tif",
        10,
        "LSM 980",
        "2026-11-02T09:00:00Z",
        &[("DAPI", 18.0, 0.0), ("GFP", 7.0, 0.05)],
        "2026-11-02",
    ));
    events.extend(lifecycle(
        "q3",
        "a/3.tif",
        10,
        "Widefield",
        "2026-11-03T09:00:00Z",
        &[("DAPI", 3.0, 0.0)],
        "2026-11-03",
    ));
    env.ingest(&batch("scope-1", events)).await;
    let t = env
        .get("/api/qc/trends?instrument=LSM%20980&channel=GFP")
        .await;
    assert_eq!(t["series"].as_array().unwrap().len(), 1);
    let pts = &t["series"][0]["points"];
    assert_eq!(pts.as_array().unwrap().len(), 2);
    assert_eq!(pts[0]["at"], "2026-11-01T09:00:00.000Z", "oldest first");
    assert_eq!(
        (pts[0]["snr"].clone(), pts[0]["alarm"].clone()),
        (json!(8.0), json!(false))
    );
    assert_eq!(
        (
            pts[1]["saturation_fraction"].clone(),
            pts[1]["alarm"].clone()
        ),
        (json!(0.05), json!(true))
    );
    assert_eq!(t["alarms"].as_array().unwrap().len(), 1);
    assert_eq!(t["alarms"][0]["channel"], "GFP");
    let all = env.get("/api/qc/trends").await;
    let names: Vec<String> = all["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["instrument"].as_str().unwrap(),
                s["channel"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["LSM 980/DAPI", "LSM 980/GFP", "Widefield/DAPI"]);
    // A stricter threshold on request.
    assert_eq!(
        env.get("/api/qc/trends?threshold=0.1").await["alarms"],
        json!([])
    );
}

async fn retention_summary(b: Backend) {
    let env = Env::new(b).await;
    let mut events = lifecycle(
        "r1",
        "a/keep.tif",
        1000,
        "LSM",
        "2026-11-01T09:00:00Z",
        DAPI_GFP,
        "2026-11-01",
    );
    events.extend(lifecycle(
        "r2",
        "a/gone.tif",
        300,
        "LSM",
        "2026-11-01T09:00:00Z",
        DAPI_GFP,
        "2026-11-01",
    ));
    events.push(ev(
        "r2-5",
        "2026-11-02T00:00:00Z",
        "a/gone.tif",
        300,
        "purged",
        json!({"mode": "trash"}),
    ));
    events.push(ev(
        "r1-5",
        "2026-11-02T00:00:00Z",
        "a/keep.tif",
        1000,
        "kept",
        json!({"reason": "mesocentre: no verified copy"}),
    ));
    events.push(ev(
        "r3",
        "2026-11-02T00:00:00Z",
        "a/new.tif",
        77,
        "found",
        json!({}),
    ));
    env.ingest(&batch("scope-1", events)).await;
    let r = env.get("/api/retention").await;
    assert_eq!(r["reclaimable_bytes"], 1000, "{r}");
    assert_eq!(r["reclaimable_files"], 1);
    assert_eq!(
        (r["purged_files"].clone(), r["purged_bytes"].clone()),
        (json!(1), json!(300))
    );
    assert_eq!(r["kept"].as_array().unwrap().len(), 1);
    assert_eq!(r["kept"][0]["path"], "a/keep.tif");
    assert_eq!(r["kept"][0]["reason"], "mesocentre: no verified copy");
}

async fn metrics_text(b: Backend) {
    let env = Env::new(b).await;
    let mut events = lifecycle(
        "m1",
        "a/1.tif",
        1000,
        "LSM",
        "2026-11-01T09:00:00Z",
        DAPI_GFP,
        "2026-11-01",
    );
    events.push(ev(
        "m2",
        "2026-11-02T00:00:00Z",
        "a/2.tif",
        5,
        "found",
        json!({}),
    ));
    env.ingest(&batch("scope-1", events)).await;
    let (status, text) = env.text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "scopeflow_files{agent=\"scope-1\",state=\"verified\"} 1",
        "scopeflow_files{agent=\"scope-1\",state=\"discovered\"} 1",
        "scopeflow_files_by_state{state=\"verified\"} 1",
        "scopeflow_files_by_state{state=\"failed\"} 0",
        "scopeflow_bytes_transferred 1000",
        "scopeflow_qc_alarms 1",
        "scopeflow_agents 1",
        "scopeflow_agent_queue{agent=\"scope-1\"} 3",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(text.contains("# TYPE scopeflow_files gauge"));
}

async fn agents_and_heartbeat(b: Backend) {
    let env = Env::new(b).await;
    assert_eq!(env.get("/api/agents").await["agents"], json!([]));
    let ack = env
        .ingest(&json!({"agent": "scope-1", "host": "acq-pc-3", "queue": 12, "events": []}))
        .await;
    assert_eq!(ack, json!({"accepted": [], "new": 0}));
    let a = &env.get("/api/agents").await["agents"][0];
    assert_eq!(a["name"], "scope-1");
    assert_eq!(a["host"], "acq-pc-3");
    assert_eq!(a["queue"], 12);
    assert_eq!(
        (a["files"].clone(), a["failed"].clone()),
        (json!(0), json!(0))
    );
    let seen = a["last_seen"].as_str().unwrap().to_string();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&seen).is_ok(),
        "{seen}"
    );
    // A batch without host/queue keeps the last known ones.
    env.ingest(&json!({"agent": "scope-1", "events": [ev("x", "2026-11-01T00:00:00Z", "f.tif", 1, "quarantined", json!({"error": "bad tiff"}))]})).await;
    let a = &env.get("/api/agents").await["agents"][0];
    assert_eq!(a["host"], "acq-pc-3");
    assert_eq!(a["quarantined"], 1);
    assert!(a["last_seen"].as_str().unwrap() >= seen.as_str());
    let o = env.get("/api/overview").await;
    assert_eq!(o["states"]["quarantined"]["files"], 1);
}

async fn migrations_on_fresh_and_existing_db(b: Backend) {
    let mut env = Env::new(b).await;
    env.ingest(&batch(
        "scope-1",
        lifecycle(
            "k",
            "a/1.tif",
            10,
            "LSM",
            "2026-11-01T09:00:00Z",
            DAPI_GFP,
            "2026-11-01",
        ),
    ))
    .await;
    // Restart on the same database: migrations already applied, data kept, tokens still valid.
    env.restart().await;
    assert_eq!(env.get("/api/files").await["files"][0]["state"], "verified");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&env.db).await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM scopeflow_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7]);
    if env.db.starts_with("postgres") {
        // Text search is answered from a trigram index on PostgreSQL (contrib's pg_trgm).
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'files_search_trgm'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "the trigram index for text search is missing");
    }
    pool.close().await;
}
