//! Issue 15 on the server: the agents' QC alarms and thumbnails, each test run once on SQLite
//! and once on a real PostgreSQL.

#[macro_use]
mod common;

use common::{Backend, Env, batch, ev, lifecycle};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    alarms_are_stored_once_listed_filtered_and_counted,
    thumbnails_are_checked_kept_and_served,
);

/// A 4 × 3 RGB PNG.
const PNG_4X3: &str = "iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAKklEQVR4nA3HMQEAMAzDMAMriMApnIAoCMPa9AlwcPEQ4sSNl586devVByI2EVnAbfZxAAAAAElFTkSuQmCC";

/// One `qc_alarm` event: (channel, channel name, rule, figure, threshold, instrument).
type Alarm<'a> = (u64, &'a str, &'a str, Value, f64, &'a str);

fn alarm(id: &str, at: &str, path: &str, a: Alarm<'_>) -> Value {
    let (channel, name, rule, value, threshold, instrument) = a;
    ev(
        id,
        at,
        path,
        100,
        "qc_alarm",
        json!({"channel": channel, "channel_name": name, "rule": rule, "value": value,
               "threshold": threshold, "instrument": instrument}),
    )
}

async fn alarms_are_stored_once_listed_filtered_and_counted(b: Backend) {
    let env = Env::new(b).await;
    let mut events = lifecycle(
        "a",
        "alice/cells.tif",
        100,
        "LSM 980",
        "2026-11-20T09:00:00Z",
        &[("DAPI", 25.0, 0.0), ("GFP", 6.5, 2e-2)],
        "2026-11-20",
    );
    events.extend(lifecycle(
        "b",
        "bob/tissue.tif",
        100,
        "Zeiss 880",
        "2026-11-20T09:00:00Z",
        &[("DAPI", 3.0, 0.0)],
        "2026-11-20",
    ));
    events.push(alarm(
        "x1",
        "2026-11-20T10:00:30Z",
        "alice/cells.tif",
        (1, "GFP", "saturation_max", json!(0.02), 0.001, "LSM 980"),
    ));
    events.push(alarm(
        "x2",
        "2026-11-20T10:00:31Z",
        "bob/tissue.tif",
        (0, "DAPI", "snr_min", json!(3.0), 5.0, "Zeiss 880"),
    ));
    // No figure: the QC gave none (a flat channel has no SNR).
    events.push(alarm(
        "x3",
        "2026-11-20T10:00:32Z",
        "alice/cells.tif",
        (0, "DAPI", "snr_min", Value::Null, 5.0, "LSM 980"),
    ));
    let ack = env.ingest(&batch("scope-1", events.clone())).await;
    assert_eq!(ack["new"], 11);
    // Sent again (a lost acknowledgement): nothing changes.
    let again = env.ingest(&batch("scope-1", events)).await;
    assert_eq!(again["new"], 0);

    let all = env.get("/api/alarms").await;
    let list = all["alarms"].as_array().expect("alarms");
    assert_eq!(list.len(), 3, "{all:#}");
    // Newest first, with the file and its user.
    assert_eq!(list[0]["rule"], "snr_min");
    assert_eq!(list[0]["value"], Value::Null);
    assert_eq!(list[0]["path"], "alice/cells.tif");
    assert_eq!(list[0]["user"], "alice");
    assert_eq!(list[2]["channel"], 1);
    assert_eq!(list[2]["channel_name"], "GFP");
    assert_eq!(list[2]["value"], 0.02);
    assert_eq!(list[2]["threshold"], 0.001);
    assert_eq!(list[2]["instrument"], "LSM 980");
    assert_eq!(list[2]["agent"], "scope-1");
    assert_eq!(list[2]["at"], "2026-11-20T10:00:30.000Z");

    let by_instrument = env.get("/api/alarms?instrument=Zeiss%20880").await;
    assert_eq!(
        by_instrument["alarms"].as_array().map(Vec::len),
        Some(1),
        "{by_instrument:#}"
    );
    assert_eq!(by_instrument["alarms"][0]["path"], "bob/tissue.tif");
    let by_user = env.get("/api/alarms?user=alice").await;
    assert_eq!(
        by_user["alarms"].as_array().map(Vec::len),
        Some(2),
        "{by_user:#}"
    );
    let none = env
        .get("/api/alarms?user=alice&instrument=Zeiss%20880")
        .await;
    assert_eq!(none["alarms"], json!([]));
    let paged = env.get("/api/alarms?limit=1&offset=1").await;
    assert_eq!(paged["alarms"].as_array().map(Vec::len), Some(1));
    assert_eq!(paged["alarms"][0]["rule"], "snr_min");
    assert_eq!(paged["alarms"][0]["path"], "bob/tissue.tif");

    // The file's page lists its own alarms, by channel.
    let id = list[0]["file_id"].as_i64().expect("file_id");
    let file = env.get(&format!("/api/files/{id}")).await;
    let rules: Vec<(i64, &str)> = file["alarms"]
        .as_array()
        .expect("file alarms")
        .iter()
        .map(|a| {
            (
                a["channel"].as_i64().unwrap_or(-1),
                a["rule"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(rules, [(0, "snr_min"), (1, "saturation_max")]);
    // The alarm changed nothing about the file's state.
    assert_eq!(file["state"], "verified");
    // The file list carries each file's alarms too (the dashboard colours its QC columns).
    let listed = env.get("/api/files?q=cells").await;
    assert_eq!(
        listed["files"][0]["alarms"].as_array().map(Vec::len),
        Some(2),
        "{listed:#}"
    );
    let tissue = env.get("/api/files?q=tissue").await;
    assert_eq!(tissue["files"][0]["alarms"][0]["rule"], "snr_min");

    let (status, metrics) = env.text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for line in [
        "# TYPE scopeflow_qc_alarms_total counter",
        "scopeflow_qc_alarms_total{instrument=\"LSM 980\",rule=\"saturation_max\"} 1",
        "scopeflow_qc_alarms_total{instrument=\"LSM 980\",rule=\"snr_min\"} 1",
        "scopeflow_qc_alarms_total{instrument=\"Zeiss 880\",rule=\"snr_min\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing:\n{metrics}"
        );
    }

    // Refused whole, with a reason naming the field: a bad figure or an empty rule.
    for (data, field) in [
        (
            json!({"channel": 0, "rule": "", "threshold": 1.0, "instrument": "x"}),
            "data.rule",
        ),
        (
            json!({"channel": 100_000_000, "rule": "snr_min", "threshold": 1.0, "instrument": "x"}),
            "data.channel",
        ),
        (
            json!({"channel": 0, "rule": "snr_min", "threshold": 1.0, "instrument": "x\u{0}"}),
            "data.instrument",
        ),
    ] {
        let bad = ev(
            "bad",
            "2026-11-20T11:00:00Z",
            "alice/cells.tif",
            100,
            "qc_alarm",
            data,
        );
        let (status, body) = env.post(&env.agent, &batch("scope-1", vec![bad])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    assert_eq!(
        env.get("/api/alarms").await["alarms"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // The focus score the dashboard shows is typed like the other figures.
    let mut doc = common::qc_doc("LSM 980", "2026-11-20T09:00:00Z", &[("DAPI", 25.0, 0.0)]);
    doc["qc"]["channels"][0]["focus"] = json!("sharp");
    let bad = ev(
        "f1",
        "2026-11-20T11:00:00Z",
        "alice/new.tif",
        100,
        "processed",
        json!({ "qc": doc }),
    );
    let (status, body) = env.post(&env.agent, &batch("scope-1", vec![bad])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("focus"), "{body}");
}

async fn thumbnails_are_checked_kept_and_served(b: Backend) {
    let env = Env::new(b).await;
    let at = "2026-11-20T10:00:00Z";
    let events = vec![
        ev("t1", at, "alice/a.tif", 100, "found", json!({})),
        ev(
            "t2",
            "2026-11-20T10:01:00Z",
            "alice/a.tif",
            100,
            "processed",
            json!({"qc": common::qc_doc("LSM 980", at, &[("DAPI", 20.0, 0.0)]), "thumbnail": PNG_4X3}),
        ),
        // An older agent: no thumbnail key at all.
        ev("t3", at, "alice/old.tif", 100, "found", json!({})),
        ev(
            "t4",
            "2026-11-20T10:01:00Z",
            "alice/old.tif",
            100,
            "processed",
            json!({"qc": common::qc_doc("LSM 980", at, &[("DAPI", 20.0, 0.0)])}),
        ),
    ];
    env.ingest(&batch("scope-1", events)).await;
    let files = env.get("/api/files?q=alice").await;
    let of = |p: &str| {
        files["files"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["path"] == p))
            .cloned()
            .unwrap_or_else(|| panic!("{p} missing: {files:#}"))
    };
    let (with, without) = (of("alice/a.tif"), of("alice/old.tif"));
    let url = with["thumbnail"]
        .as_str()
        .expect("thumbnail url")
        .to_string();
    assert_eq!(url, format!("/api/files/{}/thumbnail.png", with["id"]));
    assert_eq!(without["thumbnail"], Value::Null);
    assert_eq!(without["state"], "processed");

    let get = |path: String, token: Option<String>| {
        let http = env.http.clone();
        let base = env.base.clone();
        async move {
            let mut r = http.get(format!("{base}{path}"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().await.unwrap()
        }
    };
    let r = get(url.clone(), Some(env.viewer.clone())).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(bytes.len(), 99, "the PNG as the agent sent it");
    let r = get(
        format!("/api/files/{}/thumbnail.png", without["id"]),
        Some(env.viewer.clone()),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        get(
            "/api/files/999999/thumbnail.png".into(),
            Some(env.viewer.clone())
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(url.clone(), None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Sent back to `processed` (a bad copy) without a thumbnail: the one stored stays.
    env.ingest(&batch(
        "scope-1",
        vec![ev(
            "t5",
            "2026-11-20T12:00:00Z",
            "alice/a.tif",
            100,
            "processed",
            json!({}),
        )],
    ))
    .await;
    assert_eq!(
        get(url.clone(), Some(env.viewer.clone())).await.status(),
        StatusCode::OK
    );

    // Not base64, not a PNG, too large a picture: the event is refused, naming the field.
    let big = {
        let mut png = base64_decode(PNG_4X3);
        png[16..20].copy_from_slice(&1024u32.to_be_bytes());
        base64_encode(&png)
    };
    for (thumb, why) in [
        ("%%%", "base64"),
        ("R0lGODlhAQABAAAAACw=", "not a PNG"),
        (big.as_str(), "1024 × 3"),
    ] {
        let bad = ev(
            "tb",
            at,
            "alice/b.tif",
            100,
            "processed",
            json!({"thumbnail": thumb}),
        );
        let (status, body) = env.post(&env.agent, &batch("scope-1", vec![bad])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let msg = body.to_string();
        assert!(
            msg.contains("data.thumbnail") && msg.contains(why),
            "{why}: {msg}"
        );
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
