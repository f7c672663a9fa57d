//! Crash accounting (a file whose processing never ended counts an attempt at the next
//! start), an operator's re-queue, and events the server refused for good.

mod common;

use std::time::Duration;

use common::{journal, processed};
use scopeflow_journal::FileState;

const S: Duration = Duration::from_secs(1);

#[tokio::test]
async fn unfinished_processing_counts_as_a_failed_attempt_then_quarantines() {
    let (d, j) = journal().await;
    let id = j.observe("acq", "poison.tif", 10, 1).await.unwrap().id;
    j.mark_stable(id).await.unwrap();
    for attempt in 1..=3u32 {
        j.processing_started(id).await.unwrap();
        // The process dies here; a new one opens the journal.
        let j = scopeflow_journal::Journal::open(&d.path().join("state.db"))
            .await
            .unwrap();
        let found = j.count_interrupted(3, S, S).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].id, found[0].attempt), (id, attempt));
        let row = j.get(id).await.unwrap();
        assert_eq!(row.attempts, attempt);
        let want = if attempt == 3 {
            "quarantined"
        } else {
            "failed"
        };
        assert_eq!(row.state.as_str(), want);
        assert!(row.error.unwrap().contains(&format!(
            "the process died while processing this file (attempt {attempt})"
        )));
        assert!(
            j.count_interrupted(3, S, S).await.unwrap().is_empty(),
            "counted once"
        );
    }
}

#[tokio::test]
async fn finished_or_abandoned_processing_is_no_crash() {
    let (_d, j) = journal().await;
    let a = j.observe("acq", "a.tif", 10, 1).await.unwrap().id;
    j.mark_stable(a).await.unwrap();
    j.processing_started(a).await.unwrap();
    j.processing_ended(a).await.unwrap();
    j.processing_started(a).await.unwrap();
    j.processing_abandoned().await.unwrap();
    assert!(j.count_interrupted(3, S, S).await.unwrap().is_empty());
    assert_eq!(j.get(a).await.unwrap().attempts, 0);
    // A file that moved on meanwhile (processed by a run that then died elsewhere) is left.
    let b = processed(&j, "b.tif", 2).await;
    j.processing_started(b).await.unwrap();
    assert!(j.count_interrupted(3, S, S).await.unwrap().is_empty());
    assert_eq!(j.get(b).await.unwrap().state, FileState::Processed);
}

#[tokio::test]
async fn requeue_restarts_quarantined_and_failed_files_from_zero() {
    let (_d, j) = journal().await;
    let q = processed(&j, "q.tif", 1).await;
    let f = processed(&j, "f.tif", 2).await;
    let ok = processed(&j, "ok.tif", 3).await;
    j.mark_failed(q, "host key changed", 1, S, S).await.unwrap();
    j.mark_failed(f, "boom", 5, S, S).await.unwrap();
    assert_eq!(j.get(q).await.unwrap().state, FileState::Quarantined);

    let only = j
        .requeue(Some(&["q.tif".to_string(), "ok.tif".to_string()]))
        .await
        .unwrap();
    assert_eq!(only, [("acq".to_string(), "q.tif".to_string())]);
    let row = j.get(q).await.unwrap();
    assert_eq!(
        (row.state, row.attempts, row.next_attempt_at),
        (FileState::Failed, 0, None)
    );
    assert_eq!(
        row.error.as_deref(),
        Some("host key changed"),
        "the reason stays until it works"
    );
    assert_eq!(j.get(ok).await.unwrap().state, FileState::Processed);
    let pending: Vec<i64> = j
        .pending(chrono::Utc::now())
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert!(pending.contains(&q));

    let all = j.requeue(None).await.unwrap();
    let rels: Vec<&str> = all.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(rels, ["q.tif", "f.tif"]);
    assert_eq!(j.get(f).await.unwrap().attempts, 0);
}

#[tokio::test]
async fn rejected_events_are_kept_and_not_resent() {
    let (_d, j) = journal().await;
    j.enqueue("found", r#"{"file": {}, "data": {}}"#)
        .await
        .unwrap();
    let ids: Vec<String> = j
        .unsent(100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert!(!ids.is_empty());
    let bad = ids[0].clone();
    assert_eq!(
        j.mark_rejected(std::slice::from_ref(&bad), "HTTP 400: file.path")
            .await
            .unwrap(),
        1
    );
    assert!(j.unsent(100).await.unwrap().iter().all(|e| e.id != bad));
    let rejected = j.rejected().await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (rejected[0].0.as_str(), rejected[0].3.as_str()),
        (bad.as_str(), "HTTP 400: file.path")
    );
}
