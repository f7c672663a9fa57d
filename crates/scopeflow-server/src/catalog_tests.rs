use scopeflow_core::{Event, EventBody, FileRef};
use serde_json::json;

use super::*;

fn ev(at: &str, body: EventBody) -> Event {
    Event {
        id: at.into(),
        at: at.into(),
        file: FileRef {
            watch: "acq".into(),
            path: "Alice/day1/cells.tif".into(),
            version: 1,
            sha256: None,
            size: 10,
        },
        body,
    }
}

fn row_after(events: &[Event]) -> FileRow {
    let mut row = FileRow::new("scope", &events[0], &events[0].at);
    for e in events {
        row.apply(e, &e.at);
    }
    row
}

#[test]
fn progress_never_moves_back_and_failures_show_only_while_newest() {
    let verified = ev("2026-01-01T00:00:05.000Z", EventBody::Verified {});
    let processed = ev(
        "2026-01-01T00:00:02.000Z",
        EventBody::Processed {
            qc: None,
            thumbnail: None,
        },
    );
    let old_fail = ev(
        "2026-01-01T00:00:03.000Z",
        EventBody::Failed {
            error: "x".into(),
            attempts: 1,
        },
    );
    let row = row_after(&[verified.clone(), processed, old_fail]);
    assert_eq!(row.state, "verified");
    assert_eq!(
        row.error.as_deref(),
        Some("x"),
        "the error is kept as history"
    );
    let new_fail = ev(
        "2026-01-01T00:00:09.000Z",
        EventBody::Quarantined {
            error: "gone".into(),
        },
    );
    assert_eq!(row_after(&[verified, new_fail]).state, "quarantined");
}

#[test]
fn a_newer_invalid_copy_takes_verified_back_to_transferred() {
    let verified = ev("2026-01-01T00:00:05.000Z", EventBody::Verified {});
    let invalid = |at| {
        ev(
            at,
            EventBody::CopyInvalid {
                destination: "nas".into(),
                error: None,
            },
        )
    };
    assert_eq!(
        row_after(&[verified.clone(), invalid("2026-01-01T00:00:06.000Z")]).state,
        "transferred"
    );
    assert_eq!(
        row_after(&[verified, invalid("2026-01-01T00:00:04.000Z")]).state,
        "verified"
    );
}

#[test]
fn processed_fills_metadata_search_and_qc_channels() {
    let doc = json!({
        "inspect": {"axes": "CYX", "dtype": "uint16", "channel_names": ["DAPI", "GFP"],
                    "acquired_at": "2026-01-01T09:00:00+01:00", "instrument": "LSM 980", "metadata": {}},
        "qc": {"channels": [{"index": 0, "name": "DAPI", "snr": 3.5, "saturation_fraction": 0.0},
                            {"index": 1, "name": "GFP", "snr": null, "saturation_fraction": 0.5}]},
        "sha256": "ff",
    });
    let mut row = row_after(&[ev("2026-01-01T10:00:00.000Z", EventBody::Found {})]);
    let fx = row.apply(
        &ev(
            "2026-01-01T10:00:01.000Z",
            EventBody::Processed {
                qc: Some(doc),
                thumbnail: None,
            },
        ),
        "2026-01-01T10:00:01.000Z",
    );
    assert_eq!(row.acquired_at.as_deref(), Some("2026-01-01T08:00:00.000Z"));
    assert_eq!(row.sort_at, "2026-01-01T08:00:00.000Z");
    assert_eq!(row.user_name.as_deref(), Some("Alice"));
    assert_eq!(row.sha256.as_deref(), Some("ff"));
    assert_eq!(
        row.search,
        "alice/day1/cells.tif dapi,gfp lsm 980 alice scope"
    );
    let qc = fx.qc.unwrap();
    assert_eq!(qc.len(), 2);
    assert_eq!((qc[1].snr, qc[1].saturation), (None, Some(0.5)));
}

#[test]
fn verified_hour_is_reported_once() {
    let mut row = row_after(&[ev("2026-01-01T10:00:00.000Z", EventBody::Found {})]);
    let v = ev("2026-01-01T11:30:00.000Z", EventBody::Verified {});
    assert_eq!(
        row.apply(&v, &v.at).verified_hour.as_deref(),
        Some("2026-01-01T11")
    );
    let p = ev("2026-01-02T00:00:00.000Z", EventBody::Purged { mode: None });
    assert_eq!(row.apply(&p, &p.at).verified_hour, None);
    assert_eq!(row.state, "purged");
}
