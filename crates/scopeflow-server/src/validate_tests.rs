use serde_json::json;

use super::*;

fn one(ev: Value) -> Result<Vec<String>, ApiError> {
    let b: EventBatch = serde_json::from_value(json!({"agent": "a", "events": [ev]})).unwrap();
    batch(&b)
}

fn ev(path: &str, size: u64, kind: &str, data: Value) -> Value {
    json!({"id": "e-1", "at": "2026-11-24T13:00:00+01:00",
           "file": {"watch": "acq", "path": path, "version": 1, "size": size},
           "kind": kind, "data": data})
}

fn refused(v: Value, wanted: &str) {
    let e = one(v).expect_err(wanted);
    assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
    assert!(
        e.message.contains(wanted),
        "{wanted:?} not in {:?}",
        e.message
    );
    assert!(e.message.contains("e-1"), "names the event: {}", e.message);
}

#[test]
fn a_good_event_passes_with_its_time_normalised() {
    let times = one(ev("alice/2026/cells.tif", 1 << 40, "found", json!({}))).unwrap();
    assert_eq!(times, ["2026-11-24T12:00:00.000Z"]);
}

#[test]
fn sizes_are_bounded() {
    refused(ev("a.tif", u64::MAX, "found", json!({})), "file.size");
    refused(
        ev("a.tif", MAX_FILE_SIZE + 1, "found", json!({})),
        "file.size",
    );
    assert!(one(ev("a.tif", MAX_FILE_SIZE, "found", json!({}))).is_ok());
}

#[test]
fn paths_stay_inside_the_watched_folder() {
    for p in [
        "/etc/passwd",
        "\\\\server\\share\\x.tif",
        "C:\\data\\x.tif",
        "c:/data/x.tif",
        "a/../../x.tif",
        "./x.tif",
        "a//x.tif",
        "a/",
        "",
        "a\0b",
    ] {
        refused(ev(p, 1, "found", json!({})), "file.path");
    }
    refused(ev(&"a/".repeat(3000), 1, "found", json!({})), "file.path");
    assert!(one(ev("alice/<b>odd name</b> v2.tif", 1, "found", json!({}))).is_ok());
}

#[test]
fn ids_times_and_names() {
    let mut v = ev("a.tif", 1, "found", json!({}));
    v["id"] = json!("x".repeat(MAX_ID + 1));
    assert!(one(v.clone()).unwrap_err().message.contains("id"));
    v["id"] = json!("");
    assert!(one(v.clone()).unwrap_err().message.contains("id is empty"));
    v["id"] = json!("e\n1");
    assert!(one(v).is_err());
    refused(
        ev(
            "a.tif",
            1,
            "copy_verified",
            json!({"destination": "nas", "verified_at": "soon"}),
        ),
        "data.verified_at",
    );
    refused(
        ev(
            "a.tif",
            1,
            "copy_verified",
            json!({"destination": "", "verified_at": "2026-11-24T12:00:00Z"}),
        ),
        "data.destination",
    );
    refused(
        ev(
            "a.tif",
            1,
            "failed",
            json!({"error": "x".repeat(MAX_TEXT + 1)}),
        ),
        "data.error",
    );
    refused(ev("a.tif", 1, "kept", json!({"reason": "nul\0"})), "NUL");
    let mut v = ev("a.tif", 1, "found", json!({}));
    v["file"]["sha256"] = json!("not-a-hash");
    refused(v, "file.sha256");
    let mut v = ev("a.tif", 1, "found", json!({}));
    v["file"]["version"] = json!(0);
    refused(v, "file.version");
}

#[test]
fn qc_figures_must_be_numbers() {
    let doc = |sat: Value| json!({"qc": {"channels": [{"index": 0, "name": "GFP", "snr": 3.0, "saturation_fraction": sat}]}});
    refused(
        ev(
            "a.tif",
            1,
            "processed",
            json!({"qc": doc(json!("<img src=x onerror=alert(1)>"))}),
        ),
        "data.qc.qc.channels[0].saturation_fraction",
    );
    refused(
        ev("a.tif", 1, "processed", json!({"qc": doc(json!(2.0))})),
        "fraction",
    );
    refused(
        ev("a.tif", 1, "processed", json!({"qc": doc(json!([1]))})),
        "expected a number",
    );
    assert!(one(ev("a.tif", 1, "processed", json!({"qc": doc(json!(0.25))}))).is_ok());
    assert!(one(ev("a.tif", 1, "processed", json!({"qc": doc(Value::Null)}))).is_ok());
    let bad_index = json!({"qc": {"channels": [{"index": -1}]}});
    refused(
        ev("a.tif", 1, "processed", json!({"qc": bad_index})),
        "index",
    );
    let bad_name = json!({"qc": {"channels": [{"index": 0, "name": {"x": 1}}]}});
    refused(ev("a.tif", 1, "processed", json!({"qc": bad_name})), "name");
    let bad_inspect = json!({"inspect": {"channel_names": "DAPI"}});
    refused(
        ev("a.tif", 1, "processed", json!({"qc": bad_inspect})),
        "channel_names",
    );
    let nul_deep = json!({"inspect": {"metadata": {"k": ["ok", "b\0d"]}}});
    refused(ev("a.tif", 1, "processed", json!({"qc": nul_deep})), "NUL");
    // An instrument may be an object (OME's Instrument); the server shows only strings.
    let obj = json!({"inspect": {"instrument": {"model": "LSM 980"}, "metadata": {}}});
    assert!(one(ev("a.tif", 1, "processed", json!({"qc": obj}))).is_ok());
}

#[test]
fn batch_fields() {
    let b: EventBatch =
        serde_json::from_value(json!({"agent": "a", "queue": u64::MAX, "events": []})).unwrap();
    assert!(batch(&b).unwrap_err().message.contains("queue"));
    let b: EventBatch =
        serde_json::from_value(json!({"agent": "a", "host": "pc\u{7}", "events": []})).unwrap();
    assert!(batch(&b).unwrap_err().message.contains("host"));
}
