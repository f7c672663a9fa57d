//! What a sighting of a file on disk does to the journal.

mod common;

use common::{journal, processed, sha};

#[tokio::test]
async fn new_path_is_version_1_discovered() {
    let (_d, j) = journal().await;
    let row = j.observe("acq", "day1/a.tif", 1000, 42).await.unwrap();
    assert_eq!((row.version, row.size, row.mtime_ns), (1, 1000, 42));
    assert_eq!(row.state, "discovered");
    assert_eq!(
        (row.watch.as_str(), row.rel.as_str()),
        ("acq", "day1/a.tif")
    );
    assert_eq!((row.sha256, row.error, row.attempts), (None, None, 0));
    assert!(row.discovered_at.ends_with('Z') && row.discovered_at.len() == 24);
    assert_eq!(j.get(row.id).await.unwrap().state, "discovered");
}

#[tokio::test]
async fn same_size_and_mtime_is_unchanged() {
    let (_d, j) = journal().await;
    let first = j.observe("acq", "a.tif", 1000, 42).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let again = j.observe("acq", "a.tif", 1000, 42).await.unwrap();
    assert_eq!(first, again, "nothing may change, not even updated_at");
    assert_eq!(j.status().await.unwrap().len(), 1);
}

#[tokio::test]
async fn growing_while_discovered_or_stable_updates_in_place() {
    let (_d, j) = journal().await;
    let first = j.observe("acq", "a.tif", 1000, 42).await.unwrap();
    let grown = j.observe("acq", "a.tif", 2000, 43).await.unwrap();
    assert_eq!(
        (grown.id, grown.version, grown.size, grown.mtime_ns),
        (first.id, 1, 2000, 43)
    );
    assert_eq!(grown.state, "discovered");

    j.mark_stable(first.id).await.unwrap();
    assert!(j.get(first.id).await.unwrap().stable_at.is_some());
    // Written to again after it looked settled: settling starts over.
    let again = j.observe("acq", "a.tif", 3000, 44).await.unwrap();
    assert_eq!((again.id, again.version, again.size), (first.id, 1, 3000));
    assert_eq!(again.state, "discovered");
    assert_eq!(again.stable_at, None);
    assert_eq!(j.status().await.unwrap().len(), 1);
}

#[tokio::test]
async fn replaced_after_processing_is_a_new_version() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let v1 = j.get(id).await.unwrap();

    let v2 = j.observe("acq", "a.tif", 555, 99).await.unwrap();
    assert_ne!(v2.id, id);
    assert_eq!((v2.version, v2.size, v2.mtime_ns), (2, 555, 99));
    assert_eq!(
        (v2.state.as_str(), v2.sha256.as_deref()),
        ("discovered", None)
    );
    assert_eq!(
        j.get(id).await.unwrap(),
        v1,
        "version 1 is kept exactly as it was"
    );

    // Version 2 is now the file: seeing it again is unchanged, growing it updates v2 only.
    assert_eq!(j.observe("acq", "a.tif", 555, 99).await.unwrap(), v2);
    let grown = j.observe("acq", "a.tif", 600, 100).await.unwrap();
    assert_eq!((grown.id, grown.version), (v2.id, 2));
    assert_eq!(j.get(id).await.unwrap(), v1);
    assert_eq!(j.find("acq", "a.tif").await.unwrap().unwrap().id, v2.id);

    let all = j.status().await.unwrap();
    let versions: Vec<i64> = all.iter().map(|s| s.file.version).collect();
    assert_eq!(versions, [1, 2]);
}

#[tokio::test]
async fn replaced_after_failure_or_purge_is_a_new_version() {
    let (_d, j) = journal().await;
    let failed = j.observe("acq", "f.tif", 10, 1).await.unwrap();
    let s = std::time::Duration::from_secs(1);
    j.mark_failed(failed.id, "truncated", 3, s, s)
        .await
        .unwrap();
    let v2 = j.observe("acq", "f.tif", 20, 2).await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(j.get(failed.id).await.unwrap().state, "failed");

    let id = processed(&j, "p.tif", 7).await;
    j.copy_verified(id, "nas", &sha(7), common::AT)
        .await
        .unwrap();
    j.refresh_state(id, &common::dests(&["nas"])).await.unwrap();
    j.mark_purged(id).await.unwrap();
    let again = j.observe("acq", "p.tif", 1, 1).await.unwrap();
    assert_eq!((again.version, again.state.as_str()), (2, "discovered"));
    assert_eq!(j.get(id).await.unwrap().state, "purged");
}

#[tokio::test]
async fn watch_folders_are_separate_namespaces() {
    let (_d, j) = journal().await;
    let a = j.observe("acq", "x.tif", 1, 1).await.unwrap();
    let b = j.observe("other", "x.tif", 1, 1).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!((a.version, b.version), (1, 1));
    assert!(j.observe("", "x.tif", 1, 1).await.is_err());
    assert!(j.observe("acq", "", 1, 1).await.is_err());
    assert!(j.find("acq", "missing.tif").await.unwrap().is_none());
}

#[tokio::test]
async fn only_the_current_version_is_pending() {
    let (_d, j) = journal().await;
    let id = processed(&j, "a.tif", 1).await;
    let v2 = j.observe("acq", "a.tif", 1, 2).await.unwrap();
    let ids: Vec<i64> = j
        .pending(chrono::Utc::now())
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        [v2.id],
        "version 1 ({id}) is history, its content is gone"
    );
}
