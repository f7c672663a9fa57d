//! The outbox keeps events until the server acknowledged them.

mod common;

use common::journal;

#[tokio::test]
async fn events_wait_in_order_until_marked_sent() {
    let (_d, j) = journal().await;
    let a = j.enqueue("file_seen", r#"{"path":"a.tif"}"#).await.unwrap();
    let b = j
        .enqueue("qc", r#"{"path":"a.tif","snr":3.5}"#)
        .await
        .unwrap();
    let c = j.enqueue("purge", "[]").await.unwrap();
    assert!(a != b && b != c);

    let unsent = j.unsent(2).await.unwrap();
    let got: Vec<(&str, &str)> = unsent
        .iter()
        .map(|e| (e.id.as_str(), e.kind.as_str()))
        .collect();
    assert_eq!(got, [(a.as_str(), "file_seen"), (b.as_str(), "qc")]);
    assert_eq!(unsent[0].payload, r#"{"path":"a.tif"}"#);
    assert!(unsent[0].sent_at.is_none());

    assert_eq!(
        j.mark_sent(&[a.clone(), "no-such-id".into()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        j.mark_sent(std::slice::from_ref(&a)).await.unwrap(),
        0,
        "already sent"
    );
    assert_eq!(unsent_ids(&j).await, [b, c]);
}

#[tokio::test]
async fn payload_must_be_json() {
    let (_d, j) = journal().await;
    assert!(j.enqueue("x", "{not json").await.is_err());
    assert!(j.unsent(10).await.unwrap().is_empty());
}

/// Every state change a server cares about leaves exactly one event, written by the same
/// transaction, in the wire format of `scopeflow_core::Event`.
#[tokio::test]
async fn state_changes_leave_events_in_wire_format() {
    use scopeflow_core::EventBody;
    let (_d, j) = journal().await;
    let row = j.observe("acq", "day1/a.tif", 10, 1).await.unwrap();
    j.mark_stable(row.id).await.unwrap();
    let qc = r#"{"inspect":{"instrument":"LSM 980"},"qc":{"channels":[]},"sha256":"x"}"#;
    j.mark_processed(row.id, &common::sha(1), Some(qc))
        .await
        .unwrap();
    j.copy_transferred(row.id, "nas", &common::sha(1), "raw/day1/a.tif")
        .await
        .unwrap();
    j.copy_verified(row.id, "nas", &common::sha(1), "2026-11-24T12:00:00Z")
        .await
        .unwrap();
    let dests = ["nas".to_string()];
    assert_eq!(j.refresh_state(row.id, &dests).await.unwrap(), "verified");
    j.copy_invalid(row.id, "nas", "checksum mismatch")
        .await
        .unwrap();
    let events: Vec<_> = j
        .unsent(100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.to_event().unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds[..4],
        ["found", "processed", "copy_verified", "verified"]
    );
    // The bad copy, and the file taken back to `processed` to be sent again (same transaction).
    let mut last = kinds[4..].to_vec();
    last.sort_unstable();
    assert_eq!(last, ["copy_invalid", "processed"]);
    assert_eq!(events[0].file.path, "day1/a.tif");
    assert_eq!(events[0].file.sha256, None);
    assert_eq!(
        events[1].file.sha256.as_deref(),
        Some(common::sha(1).as_str())
    );
    match &events[1].body {
        EventBody::Processed { qc: Some(doc), .. } => {
            assert_eq!(doc["inspect"]["instrument"], "LSM 980")
        }
        other => panic!("processed event without its QC document: {other:?}"),
    }
    assert_eq!(
        events[2].body,
        EventBody::CopyVerified {
            destination: "nas".into(),
            verified_at: "2026-11-24T12:00:00.000Z".into()
        }
    );
    let ids: std::collections::HashSet<_> = events.iter().map(|e| &e.id).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
}

#[tokio::test]
async fn each_failure_is_an_event_with_its_attempt() {
    use scopeflow_core::EventBody;
    use std::time::Duration;
    let (_d, j) = journal().await;
    let row = j.observe("acq", "b.tif", 1, 1).await.unwrap();
    for _ in 0..2 {
        j.mark_failed(
            row.id,
            "b.tif: locked",
            2,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    }
    let bodies: Vec<_> = j
        .unsent(100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.to_event().unwrap().body)
        .collect();
    assert_eq!(
        bodies[1..],
        [
            EventBody::Failed {
                error: "b.tif: locked".into(),
                attempts: 1
            },
            EventBody::Quarantined {
                error: "b.tif: locked".into()
            }
        ]
    );
}

/// Issue 15: a journaled alarm leaves one `qc_alarm` event (a repeated alarm none); the
/// thumbnail rides on the `processed` event only, and a file sent back to `processed` (a bad
/// copy) goes without it.
#[tokio::test]
async fn alarms_and_thumbnails_leave_events_in_wire_format() {
    use scopeflow_core::EventBody;
    use scopeflow_journal::NewAlarm;
    let (_d, j) = journal().await;
    let row = j.observe("acq", "alice/a.tif", 10, 1).await.unwrap();
    j.mark_stable(row.id).await.unwrap();
    let alarm = NewAlarm {
        channel: 1,
        channel_name: Some("GFP".into()),
        rule: "saturation_max".into(),
        value: Some(0.02),
        threshold: 0.001,
        instrument: "LSM 980".into(),
    };
    let notifiers = ["0:desktop".to_string()];
    assert_eq!(
        j.record_alarms(row.id, std::slice::from_ref(&alarm), &notifiers)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        j.record_alarms(row.id, &[alarm], &notifiers).await.unwrap(),
        0
    );
    j.mark_processed_with_thumbnail(row.id, &common::sha(1), None, Some("iVBORw0K"))
        .await
        .unwrap();
    j.copy_transferred(row.id, "nas", &common::sha(1), "raw/alice/a.tif")
        .await
        .unwrap();
    j.copy_verified(row.id, "nas", &common::sha(1), "2026-11-24T12:00:00Z")
        .await
        .unwrap();
    assert_eq!(
        j.refresh_state(row.id, &["nas".to_string()]).await.unwrap(),
        "verified"
    );
    j.copy_invalid(row.id, "nas", "checksum mismatch")
        .await
        .unwrap();
    let events: Vec<_> = j
        .unsent(100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.to_event().unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(kinds[..3], ["found", "qc_alarm", "processed"], "{kinds:?}");
    assert_eq!(
        events[1].body,
        EventBody::QcAlarm {
            channel: 1,
            channel_name: Some("GFP".into()),
            rule: "saturation_max".into(),
            value: Some(0.02),
            threshold: 0.001,
            instrument: "LSM 980".into(),
        }
    );
    assert_eq!(events[1].file.path, "alice/a.tif");
    match &events[2].body {
        EventBody::Processed { thumbnail, .. } => {
            assert_eq!(thumbnail.as_deref(), Some("iVBORw0K"))
        }
        other => panic!("not processed: {other:?}"),
    }
    let again: Vec<&scopeflow_core::Event> = events
        .iter()
        .skip(3)
        .filter(|e| e.body.kind() == "processed")
        .collect();
    assert_eq!(again.len(), 1, "{kinds:?}");
    assert!(
        matches!(
            &again[0].body,
            EventBody::Processed {
                thumbnail: None,
                ..
            }
        ),
        "the thumbnail is sent once: {:?}",
        again[0].body
    );
}

/// Acknowledged events are forgotten once old enough; waiting and refused ones never are.
#[tokio::test]
async fn pruning_forgets_only_acknowledged_events() {
    let (_d, j) = journal().await;
    let mut ids = Vec::new();
    for path in ["a.tif", "b.tif", "c.tif", "d.tif"] {
        ids.push(
            j.enqueue("found", &format!(r#"{{"path":"{path}"}}"#))
                .await
                .unwrap(),
        );
    }
    assert_eq!(j.mark_sent(&ids[..2]).await.unwrap(), 2);
    assert_eq!(
        j.mark_rejected(&ids[2..3], "HTTP 422: bad path")
            .await
            .unwrap(),
        1
    );
    let day = std::time::Duration::from_secs(86_400);
    assert_eq!(j.prune_sent(day).await.unwrap(), 0, "acknowledged just now");
    assert_eq!(
        j.prune_sent(std::time::Duration::ZERO).await.unwrap(),
        2,
        "both acknowledged events"
    );
    assert_eq!(unsent_ids(&j).await, [ids[3].clone()]);
    let rejected: Vec<String> = j
        .rejected()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(rejected, [ids[2].clone()]);
    assert_eq!(j.prune_sent(std::time::Duration::ZERO).await.unwrap(), 0);
}

/// The ids of the events waiting to be sent, oldest first.
async fn unsent_ids(j: &scopeflow_journal::Journal) -> Vec<String> {
    j.unsent(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// An acknowledged `processed` event keeps its QC document for the day it is kept, not its
/// thumbnail (about 100 KiB a file), which the server has.
#[tokio::test]
async fn acknowledged_events_drop_their_thumbnail() {
    use sqlx::Connection as _;
    let (_d, j) = journal().await;
    let row = j.observe("acq", "plate/A01.tif", 10, 1).await.unwrap();
    j.mark_stable(row.id).await.unwrap();
    let qc = r#"{"inspect":{"format":"tiff"},"qc":{"channels":[]}}"#;
    j.mark_processed_with_thumbnail(row.id, &common::sha(1), Some(qc), Some("iVBORw0K"))
        .await
        .unwrap();
    let events = j.unsent(10).await.unwrap();
    let processed = events.iter().find(|e| e.kind == "processed").unwrap();
    assert!(processed.payload.contains("iVBORw0K"), "sent with it");
    assert_eq!(
        j.mark_sent(std::slice::from_ref(&processed.id))
            .await
            .unwrap(),
        1
    );

    let url = format!("sqlite://{}?mode=ro", j.path().display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT payload FROM outbox WHERE id = ?")
        .bind(&processed.id)
        .fetch_one(&mut db)
        .await
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert!(stored["data"].get("thumbnail").is_none(), "{stored}");
    assert_eq!(stored["data"]["qc"]["inspect"]["format"], "tiff");
    assert_eq!(stored["file"]["path"], "plate/A01.tif");
}
