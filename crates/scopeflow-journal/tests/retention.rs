//! The retention robot's side of the journal: which rows it may act on, intents that survive
//! a crash, the purge transaction, the trash list and the audit with its `kept` events.

mod common;

use common::{AT, dests, journal, processed, sha};
use scopeflow_journal::Journal;
use serde_json::{Value, json};

/// A file taken to `verified` at `nas`; returns its id.
async fn verified(j: &Journal, rel: &str, n: u32) -> i64 {
    let id = processed(j, rel, n).await;
    j.copy_transferred(id, "nas", &sha(n), &format!("raw/{rel}"))
        .await
        .unwrap();
    j.copy_verified(id, "nas", &sha(n), AT).await.unwrap();
    assert_eq!(
        j.refresh_state(id, &dests(&["nas"])).await.unwrap(),
        "verified"
    );
    id
}

fn record(id: i64, rel: &str, decision: &str, code: &str) -> Value {
    json!({
        "at": "2030-01-01T00:00:00Z", "run": "r1", "host": "pc", "decision": decision,
        "code": code, "reason": format!("{code}: because"), "age_s": 5,
        "file": {"id": id, "watch": "acq", "path": rel, "version": 1, "sha256": sha(1), "size": 100},
        "destinations": [{"destination": "nas", "result": "verified"}],
    })
}

#[tokio::test]
async fn candidates_are_current_unpurged_versions_with_their_copies() {
    let (_d, j) = journal().await;
    let a = verified(&j, "a.tif", 1).await;
    let b = verified(&j, "b.tif", 2).await;
    // a.tif replaced: version 2 is current, version 1 (verified) must not be a candidate.
    let a2 = j.observe("acq", "a.tif", 555, 9).await.unwrap();
    j.retention_purged(b, None, &record(b, "b.tif", "purged", "purged"))
        .await
        .unwrap();
    let c = j.retention_candidates().await.unwrap();
    let ids: Vec<i64> = c.iter().map(|s| s.file.id).collect();
    assert_eq!(ids, vec![a2.id]);
    assert!(c[0].copies.is_empty());
    assert_ne!(a, a2.id);
    let c2 = verified(&j, "c.tif", 3).await;
    let c = j.retention_candidates().await.unwrap();
    let with = c.iter().find(|s| s.file.id == c2).unwrap();
    assert_eq!(with.copies.len(), 1);
    assert_eq!(with.copies[0].path.as_deref(), Some("raw/c.tif"));
}

#[tokio::test]
async fn intent_then_purge_in_one_transaction() {
    let (_d, j) = journal().await;
    let a = verified(&j, "a.tif", 1).await;
    j.retention_intend(a, "trash", "/acq/a.tif", Some("/trash/a.tif"))
        .await
        .unwrap();
    let i = j.retention_intents().await.unwrap();
    assert_eq!(i.len(), 1);
    assert_eq!(
        (i[0].file_id, i[0].mode.as_str(), i[0].target.as_deref()),
        (a, "trash", Some("/trash/a.tif"))
    );
    // Invalid intents are refused.
    assert!(
        j.retention_intend(a, "trash", "/acq/a.tif", None)
            .await
            .is_err()
    );
    assert!(
        j.retention_intend(a, "shred", "/acq/a.tif", None)
            .await
            .is_err()
    );

    let rec = record(a, "a.tif", "trashed", "trashed");
    j.retention_purged(a, Some(("/trash/a.tif", "2030-01-01T00:00:00Z")), &rec)
        .await
        .unwrap();
    assert_eq!(j.get(a).await.unwrap().state, "purged");
    assert!(j.retention_intents().await.unwrap().is_empty());
    // Again (a recovery after a crash past the commit) is harmless.
    j.retention_purged(a, Some(("/trash/a.tif", "2030-01-01T00:00:00Z")), &rec)
        .await
        .unwrap();

    assert!(
        j.retention_trash_due("2029-12-31T00:00:00Z")
            .await
            .unwrap()
            .is_empty()
    );
    let due = j.retention_trash_due("2030-02-01T00:00:00Z").await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].path, "/trash/a.tif");
    j.retention_trash_deleted(
        a,
        "2030-02-01T00:00:00Z",
        &record(a, "a.tif", "expired", "expired"),
    )
    .await
    .unwrap();
    assert!(
        j.retention_trash_due("2031-01-01T00:00:00Z")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn only_verified_files_may_be_purged() {
    let (_d, j) = journal().await;
    let p = processed(&j, "p.tif", 1).await;
    assert!(
        j.retention_intend(p, "delete", "/acq/p.tif", None)
            .await
            .is_err()
    );
    let e = j
        .retention_purged(p, None, &record(p, "p.tif", "purged", "purged"))
        .await;
    assert!(e.is_err(), "a processed file must not become purged");
    assert_eq!(j.get(p).await.unwrap().state, "processed");
    // The refused purge wrote no audit row either.
    assert!(j.retention_last_codes().await.unwrap().is_empty());
}

#[tokio::test]
async fn abandoned_intent_leaves_the_file_as_it_was() {
    let (_d, j) = journal().await;
    let a = verified(&j, "a.tif", 1).await;
    j.retention_intend(a, "delete", "/acq/a.tif", None)
        .await
        .unwrap();
    j.retention_abandon(a).await.unwrap();
    assert!(j.retention_intents().await.unwrap().is_empty());
    assert_eq!(j.get(a).await.unwrap().state, "verified");
}

#[tokio::test]
async fn kept_records_feed_the_outbox_and_last_codes() {
    let (_d, j) = journal().await;
    let a = verified(&j, "a.tif", 1).await;
    let before = j.unsent(10_000).await.unwrap().len();
    j.retention_audit(&[record(a, "a.tif", "kept", "too_young")])
        .await
        .unwrap();
    let events = j.unsent(10_000).await.unwrap();
    assert_eq!(events.len(), before + 1);
    let kept = events.last().unwrap();
    assert_eq!(kept.kind, "kept");
    let payload: Value = serde_json::from_str(&kept.payload).unwrap();
    assert_eq!(payload["data"]["reason"], "too_young: because");
    assert_eq!(payload["file"]["path"], "a.tif");
    assert_eq!(payload["file"]["sha256"], sha(1));
    kept.to_event()
        .expect("the server's wire format accepts it");

    let last = j.retention_last_codes().await.unwrap();
    assert_eq!(
        last.get(&a),
        Some(&("kept".to_string(), "too_young".to_string()))
    );
    // A purge is not a `kept` event (the state change makes its own `purged` event).
    j.retention_purged(a, None, &record(a, "a.tif", "purged", "purged"))
        .await
        .unwrap();
    let kinds: Vec<String> = j
        .unsent(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "kept").count(), 1);
    assert_eq!(kinds.last().map(String::as_str), Some("purged"));
    let last = j.retention_last_codes().await.unwrap();
    assert_eq!(last.get(&a).map(|(d, _)| d.as_str()), Some("purged"));
}

#[tokio::test]
async fn malformed_audit_records_are_refused() {
    let (_d, j) = journal().await;
    let mut r = record(1, "a.tif", "kept", "x");
    r["at"] = json!("yesterday");
    assert!(j.retention_audit(&[r]).await.is_err());
    let mut r = record(1, "a.tif", "deleted-by-hand", "x");
    r["file"]["id"] = Value::Null;
    assert!(j.retention_audit(&[r]).await.is_err(), "unknown decision");
}
