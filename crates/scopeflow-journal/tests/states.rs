//! The way from `stable` to `purged`, and the moves the journal refuses.

mod common;

use common::{AT, dests, journal, processed, sha};
use scopeflow_journal::JournalError;

#[tokio::test]
async fn a_file_goes_through_every_state() {
    let (_d, j) = journal().await;
    let row = j.observe("acq", "a.tif", 100, 1).await.unwrap();
    j.mark_stable(row.id).await.unwrap();
    assert_eq!(j.get(row.id).await.unwrap().state, "stable");
    j.mark_processed(row.id, &sha(1), None).await.unwrap();
    let p = j.get(row.id).await.unwrap();
    assert_eq!(
        (p.state.as_str(), p.sha256.as_deref()),
        ("processed", Some(sha(1).as_str()))
    );
    assert!(p.stable_at.is_some() && p.processed_at.is_some());

    let nas = dests(&["nas"]);
    j.copy_transferred(row.id, "nas", &sha(1), "raw/x.tif")
        .await
        .unwrap();
    assert_eq!(j.refresh_state(row.id, &nas).await.unwrap(), "transferred");
    assert!(j.get(row.id).await.unwrap().transferred_at.is_some());
    j.copy_verified(row.id, "nas", &sha(1), "2026-08-01T14:00:00+02:00")
        .await
        .unwrap();
    assert_eq!(j.refresh_state(row.id, &nas).await.unwrap(), "verified");
    let v = j.get(row.id).await.unwrap();
    assert!(v.verified_at.is_some());
    let copies = j.copies(row.id).await.unwrap();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].state, "verified");
    assert_eq!(
        copies[0].verified_at.as_deref(),
        Some(AT),
        "normalised to UTC millis"
    );
    assert_eq!(copies[0].sha256.as_deref(), Some(sha(1).as_str()));

    j.mark_purged(row.id).await.unwrap();
    let purged = j.get(row.id).await.unwrap();
    assert_eq!(purged.state, "purged");
    assert!(purged.purged_at.is_some());
    j.mark_purged(row.id).await.unwrap(); // idempotent
}

#[tokio::test]
async fn refresh_state_needs_every_destination() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let both = dests(&["nas", "s3"]);

    j.copy_verified(id, "nas", &sha(1), AT).await.unwrap();
    // s3 has no copy at all: the file is not transferred everywhere yet.
    assert_eq!(j.refresh_state(id, &both).await.unwrap(), "processed");
    let copies = j.copies(id).await.unwrap();
    let s3 = copies.iter().find(|c| c.destination == "s3").unwrap();
    assert_eq!(s3.state, "pending", "listed destinations appear in status");

    // s3 transferred, its verification pending.
    j.copy_transferred(id, "s3", &sha(1), "raw/x.tif")
        .await
        .unwrap();
    assert_eq!(j.refresh_state(id, &both).await.unwrap(), "transferred");

    j.copy_verified(id, "s3", &sha(1), AT).await.unwrap();
    assert_eq!(j.refresh_state(id, &both).await.unwrap(), "verified");
    // Only the listed destinations count.
    assert_eq!(
        j.refresh_state(id, &dests(&["nas"])).await.unwrap(),
        "verified"
    );
    assert_eq!(
        j.refresh_state(id, &dests(&["nas", "s3", "tape"]))
            .await
            .unwrap(),
        "processed"
    );
    assert!(matches!(
        j.refresh_state(id, &[]).await,
        Err(JournalError::InvalidArgument { .. })
    ));
}

#[tokio::test]
async fn an_invalid_copy_takes_a_verified_file_back() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let nas = dests(&["nas"]);
    j.copy_verified(id, "nas", &sha(1), AT).await.unwrap();
    assert_eq!(j.refresh_state(id, &nas).await.unwrap(), "verified");

    j.copy_invalid(id, "nas", "checksum mismatch on re-read")
        .await
        .unwrap();
    let c = &j.copies(id).await.unwrap()[0];
    assert_eq!(
        (c.state.as_str(), c.verified_at.as_deref()),
        ("invalid", None)
    );
    assert_eq!(c.error.as_deref(), Some("checksum mismatch on re-read"));
    // Back to `processed` at once (the agent's work list), not only at the next refresh.
    assert_eq!(j.get(id).await.unwrap().state, "processed");
    assert!(
        j.pending(chrono::Utc::now())
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == id),
        "the agent must see the file again"
    );
    assert_eq!(j.refresh_state(id, &nas).await.unwrap(), "processed");
    let row = j.get(id).await.unwrap();
    assert_eq!((row.verified_at, row.transferred_at), (None, None));
    assert!(
        j.mark_purged(id).await.is_err(),
        "no longer verified: never purge"
    );
}

#[tokio::test]
async fn a_copy_with_another_checksum_is_never_verified() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let err = j.copy_verified(id, "nas", &sha(2), AT).await.unwrap_err();
    assert!(
        matches!(err, JournalError::ChecksumMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("a.tif") && err.to_string().contains("nas"));
    assert!(j.copies(id).await.unwrap().is_empty());
    assert!(
        j.copy_transferred(id, "nas", &sha(2), "raw/x.tif")
            .await
            .is_err()
    );
    assert!(j.copy_verified(id, "nas", "ABC", AT).await.is_err());
    assert!(
        j.copy_verified(id, "nas", &sha(1), "not a time")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn moves_out_of_order_are_refused() {
    let (_d, j) = journal().await;
    let row = j.observe("acq", "a.tif", 100, 1).await.unwrap();
    let refused = |r: Result<(), JournalError>| {
        assert!(
            matches!(r, Err(JournalError::InvalidTransition { .. })),
            "{r:?}"
        )
    };
    // Still being written: not processed, no copies, not purged.
    refused(j.mark_processed(row.id, &sha(1), None).await);
    refused(
        j.copy_transferred(row.id, "nas", &sha(1), "raw/x.tif")
            .await,
    );
    refused(j.mark_purged(row.id).await);

    j.mark_stable(row.id).await.unwrap();
    j.mark_stable(row.id).await.unwrap(); // idempotent
    j.mark_processed(row.id, &sha(1), None).await.unwrap();
    refused(j.mark_stable(row.id).await);
    refused(j.mark_purged(row.id).await);

    // A job that finished processing after the file was written to again must not record it.
    let other = j.observe("acq", "b.tif", 1, 1).await.unwrap();
    j.mark_stable(other.id).await.unwrap();
    j.observe("acq", "b.tif", 2, 2).await.unwrap();
    let err = j.mark_processed(other.id, &sha(2), None).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("(b.tif) is discovered, cannot become processed"),
        "{err}"
    );

    assert!(matches!(
        j.get(9999).await,
        Err(JournalError::NotFound { id: 9999 })
    ));
    assert!(matches!(
        j.mark_stable(9999).await,
        Err(JournalError::NotFound { .. })
    ));
}

#[tokio::test]
async fn processing_again_is_idempotent_but_a_new_checksum_is_refused() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    j.mark_processed(id, &sha(1), None).await.unwrap();
    j.copy_transferred(id, "nas", &sha(1), "raw/x.tif")
        .await
        .unwrap();
    j.refresh_state(id, &dests(&["nas"])).await.unwrap();
    // The work folder was lost and the file processed again: nothing moves back.
    j.mark_processed(id, &sha(1), None).await.unwrap();
    assert_eq!(j.get(id).await.unwrap().state, "transferred");
    let err = j.mark_processed(id, &sha(9), None).await.unwrap_err();
    assert!(matches!(err, JournalError::RawChanged { .. }), "{err}");
    assert_eq!(j.get(id).await.unwrap().sha256, Some(sha(1)));
}

#[tokio::test]
async fn status_lists_every_version_with_copies_as_json() {
    let (_d, j) = journal().await;
    let id = processed(&j, "day1/a.tif", 1).await;
    j.copy_verified(id, "nas", &sha(1), AT).await.unwrap();
    j.refresh_state(id, &dests(&["nas", "s3"])).await.unwrap();
    j.observe("acq", "day1/a.tif", 5, 5).await.unwrap();
    j.observe("acq", "b.tif", 5, 5).await.unwrap();

    let status = j.status().await.unwrap();
    let keys: Vec<(String, i64)> = status
        .iter()
        .map(|s| (s.file.rel.clone(), s.file.version))
        .collect();
    assert_eq!(
        keys,
        [
            ("b.tif".into(), 1),
            ("day1/a.tif".into(), 1),
            ("day1/a.tif".into(), 2)
        ]
    );
    let v1 = status[1].to_json();
    assert_eq!(v1["path"], "day1/a.tif");
    assert_eq!(v1["state"], "processed");
    assert_eq!(v1["sha256"], sha(1));
    assert_eq!(v1["size"], 100);
    assert_eq!(v1["error"], serde_json::Value::Null);
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["watch"], "acq");
    assert_eq!(v1["attempts"], 0);
    assert_eq!(
        v1["copies"],
        serde_json::json!([
            {"destination": "nas", "verified_at": AT, "state": "verified"},
            {"destination": "s3", "verified_at": null, "state": "pending"},
        ])
    );
    let v2 = status[2].to_json();
    assert_eq!(
        (v2["version"].as_i64(), v2["sha256"].is_null()),
        (Some(2), true)
    );
    assert_eq!(v2["copies"], serde_json::json!([]));
}
