//! Issue 20: one agent token must not be able to break the server for everyone. Each test runs
//! on SQLite and on a real PostgreSQL, with the reproducers of the issue.

#[macro_use]
mod common;
#[path = "poison/migration.rs"]
mod migration;

use migration::poisoned_database_migrates;

use common::{Backend, Env, batch, ev, lifecycle};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    huge_sizes_are_refused_and_aggregates_survive_restart,
    byte_totals_never_overflow,
    qc_values_must_be_numbers,
    event_ids_are_per_agent,
    security_headers_on_every_response,
    nul_in_a_query_is_refused,
    poisoned_database_migrates,
);

const AGGREGATES: [&str; 4] = ["/metrics", "/api/overview", "/api/agents", "/api/retention"];

/// GET with the viewer token: status and body text.
async fn status_of(env: &Env, path: &str) -> (StatusCode, String) {
    let r = env
        .http
        .get(format!("{}{path}", env.base))
        .bearer_auth(&env.viewer)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn aggregates_answer(env: &Env) {
    for path in AGGREGATES {
        let (status, body) = status_of(env, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}

async fn huge_sizes_are_refused_and_aggregates_survive_restart(b: Backend) {
    let mut env = Env::new(b).await;
    let at = "2026-11-20T10:00:00Z";
    let two = vec![
        ev("big-1", at, "a/1.tif", u64::MAX, "found", json!({})),
        ev("big-2", at, "a/2.tif", u64::MAX, "found", json!({})),
    ];
    let (status, e) = env.post(&env.agent, &batch("scope-1", two)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(msg.contains("big-1") && msg.contains("file.size"), "{msg}");
    // One at a time too: each is refused on its own.
    let one = vec![ev("big-3", at, "a/3.tif", u64::MAX, "found", json!({}))];
    assert_eq!(
        env.post(&env.agent, &batch("scope-1", one)).await.0,
        StatusCode::BAD_REQUEST
    );
    env.ingest(&batch(
        "scope-1",
        lifecycle("ok", "a/ok.tif", 1000, "LSM", at, &[], "2026-11-20"),
    ))
    .await;
    aggregates_answer(&env).await;
    env.restart().await;
    aggregates_answer(&env).await;
    let a = &env.get("/api/agents").await["agents"][0];
    assert_eq!(
        (a["files"].clone(), a["bytes"].clone()),
        (json!(1), json!(1000))
    );
    assert_eq!(env.get("/api/retention").await["reclaimable_bytes"], 1000);
}

/// Within the overview's default 7 days.
fn today_at_ten() -> String {
    chrono::Utc::now().format("%Y-%m-%dT10:00:00Z").to_string()
}

/// `n` found events of files of 1 PiB (the largest accepted size) for `agent`.
fn petabyte_files(agent_prefix: &str, n: usize) -> Vec<Value> {
    let at = today_at_ten();
    (0..n)
        .map(|i| {
            ev(
                &format!("{agent_prefix}-{i}"),
                &at,
                &format!("{agent_prefix}/{i}.tif"),
                1 << 50,
                "found",
                json!({}),
            )
        })
        .collect()
}

async fn byte_totals_never_overflow(b: Backend) {
    let env = Env::new(b).await;
    // 4096 × 2^50 = 2^62: fits. Another 4096 would make 2^63 = i64::MAX + 1: refused.
    env.ingest(&batch("scope-1", petabyte_files("p", 4096)))
        .await;
    let (status, e) = env
        .post(&env.agent, &batch("scope-1", petabyte_files("q", 4096)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "new: {}", e["new"]);
    assert!(e["error"].as_str().unwrap().contains("overflow"), "{e}");
    let o = env.get("/api/overview").await;
    assert_eq!(o["states"]["discovered"]["bytes"], json!(1i64 << 62), "{o}");
    // Another agent with as much: each total fits, their sum does not; readers saturate.
    let s2 = env.token("scope-2").await;
    let (status, e) = env
        .post(&s2, &batch("scope-2", petabyte_files("r", 4096)))
        .await;
    assert_eq!(status, StatusCode::OK, "{}", e["error"]);
    aggregates_answer(&env).await;
    let o = env.get("/api/overview").await;
    assert_eq!(o["states"]["discovered"]["bytes"], json!(i64::MAX), "{o}");
    let hour = &today_at_ten()[..13];
    let h = o["throughput"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hour"] == hour)
        .unwrap_or_else(|| panic!("no hour {hour}: {o}"));
    assert_eq!(h["found_bytes"], json!(i64::MAX), "{h}");
    let (_, metrics) = env.text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "scopeflow_files_by_state{state=\"discovered\"} 8192"),
        "{metrics}"
    );
}

async fn qc_values_must_be_numbers(b: Backend) {
    let env = Env::new(b).await;
    let mut doc = common::qc_doc("LSM 980", "2026-11-20T09:00:00Z", &[("GFP", 5.0, 0.0)]);
    doc["qc"]["channels"][0]["saturation_fraction"] = json!("<img src=x onerror=alert(1)>");
    let events = vec![ev(
        "x-1",
        "2026-11-20T10:00:00Z",
        "a/x.tif",
        10,
        "processed",
        json!({ "qc": doc }),
    )];
    let (status, e) = env.post(&env.agent, &batch("scope-1", events)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(
        msg.contains("x-1") && msg.contains("saturation_fraction") && msg.contains("number"),
        "{msg}"
    );
    assert_eq!(env.get("/api/files").await["files"], json!([]));
    assert_eq!(env.get("/api/qc/trends").await["series"], json!([]));
}

async fn event_ids_are_per_agent(b: Backend) {
    let env = Env::new(b).await;
    let s2 = env.token("scope-2").await;
    let at = "2026-11-20T10:00:00Z";
    // Agent B posts first, with the id agent A's journal will use.
    let theirs = vec![ev("0192-shared", at, "b/decoy.tif", 1, "found", json!({}))];
    assert_eq!(
        env.post(&s2, &batch("scope-2", theirs)).await.0,
        StatusCode::OK
    );
    let mine = vec![ev("0192-shared", at, "a/real.tif", 77, "found", json!({}))];
    let ack = env.ingest(&batch("scope-1", mine.clone())).await;
    assert_eq!(ack["new"], 1, "A's event is new to A: {ack}");
    let files = env.get("/api/files?agent=scope-1").await;
    assert_eq!(files["files"][0]["path"], "a/real.tif", "{files}");
    assert_eq!(files["files"][0]["size"], 77);
    // Still idempotent per agent.
    assert_eq!(env.ingest(&batch("scope-1", mine)).await["new"], 0);
    let id = files["files"][0]["id"].as_i64().unwrap();
    let f = env.get(&format!("/api/files/{id}")).await;
    assert_eq!(f["events"].as_array().unwrap().len(), 1, "{f}");
}

fn assert_security_headers(what: &str, r: &reqwest::Response) {
    let h = r.headers();
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let csp = get("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP {csp:?}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
}

async fn security_headers_on_every_response(b: Backend) {
    let env = Env::new(b).await;
    let gets = [
        ("/", StatusCode::OK, false),
        ("/dashboard.js", StatusCode::OK, false),
        ("/health", StatusCode::OK, false),
        ("/metrics", StatusCode::OK, false),
        ("/no/such/page", StatusCode::NOT_FOUND, false),
        ("/api/files", StatusCode::UNAUTHORIZED, false),
        ("/api/files", StatusCode::OK, true),
        ("/api/files/abc", StatusCode::BAD_REQUEST, true),
        ("/api/files/999", StatusCode::NOT_FOUND, true),
        ("/api/files?limit=abc", StatusCode::BAD_REQUEST, true),
        ("/api/files?q=%00", StatusCode::BAD_REQUEST, true),
        ("/api/agents", StatusCode::OK, true),
        ("/api/overview", StatusCode::OK, true),
        ("/api/qc/trends", StatusCode::OK, true),
        ("/api/retention", StatusCode::OK, true),
        ("/api/events", StatusCode::METHOD_NOT_ALLOWED, false),
    ];
    for (path, status, auth) in gets {
        let mut req = env.http.get(format!("{}{path}", env.base));
        if auth {
            req = req.bearer_auth(&env.viewer);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "GET {path}");
        assert_security_headers(&format!("GET {path}"), &r);
    }
    // The dashboard's own policy keeps its scripts to this server.
    let r = env.http.get(format!("{}/", env.base)).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let url = format!("{}/api/events", env.base);
    let good = batch("scope-1", vec![]);
    let posts: [(Option<&str>, String, StatusCode); 4] = [
        (None, good.to_string(), StatusCode::UNAUTHORIZED),
        (Some(&env.agent), "{".into(), StatusCode::BAD_REQUEST),
        (
            Some(&env.agent),
            "x".repeat(2 << 20),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (Some(&env.agent), good.to_string(), StatusCode::OK),
    ];
    for (token, body, status) in posts {
        let mut req = env
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "POST /api/events");
        assert_security_headers(&format!("POST /api/events ({status})"), &r);
    }
}

async fn nul_in_a_query_is_refused(b: Backend) {
    let env = Env::new(b).await;
    env.ingest(&batch(
        "scope-1",
        vec![ev(
            "n1",
            "2026-11-20T10:00:00Z",
            "a/1.tif",
            1,
            "found",
            json!({}),
        )],
    ))
    .await;
    for q in ["q=%00", "q=a%00b", "agent=%00", "instrument=x%01"] {
        let (status, body) = status_of(&env, &format!("/api/files?{q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert!(body.contains("control character"), "{q}: {body}");
    }
    let (status, _) = status_of(&env, "/api/qc/trends?channel=%00").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Ordinary searches still work.
    assert_eq!(
        env.get("/api/files?q=1.tif").await["files"][0]["path"],
        "a/1.tif"
    );
    assert_eq!(env.get("/api/files?q=zzz").await["files"], json!([]));
}
