//! Failures, back-off, quarantine, deferral, and what `pending` hands the agent.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{journal, processed, sha};
use scopeflow_journal::{FileRow, FileState, JournalError};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// How long the row was told to wait, from the moment the failure was recorded.
fn wait(row: &FileRow) -> i64 {
    let next = at(row.next_attempt_at.as_deref().unwrap());
    (next - at(&row.updated_at)).num_seconds()
}

fn ids(rows: &[FileRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn failures_back_off_exponentially_capped_then_quarantine() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let (backoff, max) = (Duration::from_secs(10), Duration::from_secs(45));
    let mut waits = Vec::new();
    for n in 1..=4 {
        let state = j
            .mark_failed(id, &format!("boom {n}"), 5, backoff, max)
            .await
            .unwrap();
        assert_eq!(state, "failed");
        let row = j.get(id).await.unwrap();
        assert_eq!(row.attempts, n);
        assert_eq!(row.error, Some(format!("boom {n}")));
        assert_eq!(
            row.failed_from.map(FileState::as_str),
            Some("processed"),
            "the step that failed is kept"
        );
        waits.push(wait(&row));
    }
    assert_eq!(waits, [10, 20, 40, 45]);
    let state = j.mark_failed(id, "boom 5", 5, backoff, max).await.unwrap();
    assert_eq!(state, "quarantined");
    let row = j.get(id).await.unwrap();
    assert_eq!((row.attempts, row.next_attempt_at), (5, None));
    assert_eq!(row.error.as_deref(), Some("boom 5"));

    let far = Utc::now() + chrono::TimeDelta::days(365);
    assert!(
        j.pending(far).await.unwrap().is_empty(),
        "quarantined is left to the operator"
    );
    assert!(matches!(
        j.mark_failed(id, "again", 5, backoff, max).await,
        Err(JournalError::InvalidTransition { .. })
    ));
    assert!(j.defer(id, "x", backoff).await.is_err());
}

#[tokio::test]
async fn a_failed_file_is_retried_after_its_back_off() {
    let (_d, j) = journal().await;
    let row = j.observe("acq", "a.tif", 1, 1).await.unwrap();
    j.mark_stable(row.id).await.unwrap();
    j.mark_failed(
        row.id,
        "locked",
        3,
        Duration::from_secs(60),
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let failed = j.get(row.id).await.unwrap();
    let recorded = at(&failed.updated_at);
    assert!(j.pending(recorded).await.unwrap().is_empty());
    assert!(
        j.pending(recorded + chrono::TimeDelta::seconds(59))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&j
            .pending(recorded + chrono::TimeDelta::seconds(60))
            .await
            .unwrap()),
        [row.id]
    );

    // The retry succeeds: the error goes, the count of failures stays.
    j.mark_processed(row.id, &sha(1), None).await.unwrap();
    let ok = j.get(row.id).await.unwrap();
    assert_eq!(
        (ok.state.as_str(), ok.error, ok.next_attempt_at),
        ("processed", None, None)
    );
    assert_eq!((ok.attempts, ok.failed_from), (1, None));
}

#[tokio::test]
async fn a_deferral_is_not_an_attempt() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    for _ in 0..10 {
        j.defer(id, "nas unreachable", Duration::from_secs(30))
            .await
            .unwrap();
    }
    let row = j.get(id).await.unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("processed", 0));
    assert_eq!(row.error.as_deref(), Some("nas unreachable"));
    assert_eq!(wait(&row), 30);
    let recorded = at(&row.updated_at);
    assert!(
        j.pending(recorded).await.unwrap().is_empty(),
        "deferred rows wait too"
    );
    assert_eq!(
        ids(&j
            .pending(recorded + chrono::TimeDelta::seconds(30))
            .await
            .unwrap()),
        [id]
    );

    // Progress clears the deferral.
    j.copy_transferred(id, "nas", &sha(1), "raw/x.tif")
        .await
        .unwrap();
    assert_eq!(
        j.refresh_state(id, &common::dests(&["nas"])).await.unwrap(),
        "transferred"
    );
    let row = j.get(id).await.unwrap();
    assert_eq!((row.error, row.next_attempt_at), (None, None));
}

#[tokio::test]
async fn pending_is_oldest_first_and_skips_finished_files() {
    let (_d, j) = journal().await;
    let s = Duration::from_secs(1);
    let a = j.observe("acq", "a.tif", 1, 1).await.unwrap().id; // discovered
    let b = processed(&j, "b.tif", 2).await; // processed
    let c = processed(&j, "c.tif", 3).await; // → verified
    j.copy_verified(c, "nas", &sha(3), common::AT)
        .await
        .unwrap();
    j.refresh_state(c, &common::dests(&["nas"])).await.unwrap();
    let d = j.observe("acq", "d.tif", 1, 1).await.unwrap().id; // → quarantined
    j.mark_failed(d, "bad", 1, s, s).await.unwrap();
    let e = j.observe("acq", "e.tif", 1, 1).await.unwrap().id; // → stable
    j.mark_stable(e).await.unwrap();
    let f = j.observe("acq", "f.tif", 1, 1).await.unwrap().id; // → failed, waiting
    j.mark_failed(
        f,
        "locked",
        3,
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    // Touch the older rows last: the order is by discovery, not by last update.
    j.defer(a, "later", Duration::ZERO).await.unwrap();

    let now = Utc::now() + chrono::TimeDelta::seconds(1);
    assert_eq!(ids(&j.pending(now).await.unwrap()), [a, b, e]);
    let later = now + chrono::TimeDelta::hours(2);
    assert_eq!(ids(&j.pending(later).await.unwrap()), [a, b, e, f]);
}

#[tokio::test]
async fn failure_before_processing_cannot_record_copies() {
    let (_d, j) = journal().await;
    let row = j.observe("acq", "a.tif", 1, 1).await.unwrap();
    let s = Duration::from_secs(1);
    j.mark_failed(row.id, "unreadable", 3, s, s).await.unwrap();
    assert!(
        j.copy_transferred(row.id, "nas", &sha(1), "raw/x.tif")
            .await
            .is_err()
    );
    assert!(
        j.refresh_state(row.id, &common::dests(&["nas"]))
            .await
            .is_err()
    );
    let again = j.mark_failed(row.id, "unreadable", 3, s, s).await.unwrap();
    assert_eq!(again, "failed");
    assert_eq!(
        j.get(row.id)
            .await
            .unwrap()
            .failed_from
            .map(FileState::as_str),
        Some("discovered")
    );
}

#[tokio::test]
async fn a_failed_transfer_stays_failed_until_copies_progress() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let both = common::dests(&["nas", "s3"]);
    let s = Duration::from_secs(1);
    assert_eq!(
        j.mark_failed(id, "s3 refused", 3, s, s).await.unwrap(),
        "failed"
    );
    // Nothing was transferred: refreshing must not wipe the failure and its back-off.
    assert_eq!(j.refresh_state(id, &both).await.unwrap(), "failed");
    assert_eq!(
        j.get(id).await.unwrap().error.as_deref(),
        Some("s3 refused")
    );
    for d in ["nas", "s3"] {
        j.copy_transferred(id, d, &sha(1), "raw/x.tif")
            .await
            .unwrap();
        j.copy_verified(id, d, &sha(1), common::AT).await.unwrap();
    }
    assert_eq!(j.refresh_state(id, &both).await.unwrap(), "verified");
    let row = j.get(id).await.unwrap();
    assert_eq!((row.error, row.failed_from, row.attempts), (None, None, 1));
}
