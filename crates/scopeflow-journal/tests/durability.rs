//! What survives closing the journal, and several handles writing the same file.

mod common;

use std::time::Duration;

use common::{AT, dests, sha};
use scopeflow_journal::Journal;
use sqlx::Connection;

/// Checks the file with a connection of its own, as another program would.
async fn integrity_and_mode(path: &std::path::Path) -> (String, String) {
    let url = format!("sqlite://{}", path.display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    (ok, mode)
}

#[tokio::test]
async fn creates_parent_folders_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".scopeflow/deeper/state.db");
    let j = Journal::open(&path).await.unwrap();
    assert_eq!(j.path(), path);
    j.observe("acq", "a.tif", 1, 1).await.unwrap();
    assert_eq!(integrity_and_mode(&path).await, ("ok".into(), "wal".into()));
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let before = {
        let j = Journal::open(&path).await.unwrap();
        let id = common::processed(&j, "a.tif", 1).await;
        j.copy_verified(id, "nas", &sha(1), AT).await.unwrap();
        j.refresh_state(id, &dests(&["nas", "s3"])).await.unwrap();
        let f = j.observe("acq", "b.tif", 2, 2).await.unwrap();
        j.mark_failed(
            f.id,
            "locked",
            3,
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        j.enqueue("file_seen", "{}").await.unwrap();
        let status = j.status().await.unwrap();
        let events = j.unsent(100).await.unwrap();
        // Dropped without close(), as a process that exits does.
        drop(j);
        (status, events)
    };
    let (before, events) = before;
    let j = Journal::open(&path).await.unwrap();
    assert_eq!(j.status().await.unwrap(), before);
    assert_eq!(j.unsent(100).await.unwrap(), events);
    // Opening again runs no migration twice and changes nothing.
    let again = Journal::open(&path).await.unwrap();
    assert_eq!(again.status().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_journals_on_one_file_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // Opened at the same moment on a file that does not exist yet: both must succeed.
    let (a, b) = tokio::join!(Journal::open(&path), Journal::open(&path));
    let (a, b) = (a.unwrap(), b.unwrap());
    const N: u32 = 30;
    let run = |j: Journal, who: &'static str| async move {
        for i in 0..N {
            // Both handles also race on the same paths.
            j.observe("acq", &format!("shared/{i}.tif"), 1, 1)
                .await
                .unwrap();
            let n = if who == "a" { i } else { 1000 + i };
            let id = common::processed(&j, &format!("{who}/{i}.tif"), n).await;
            j.copy_transferred(id, "nas", &sha(n), "raw/x.tif")
                .await
                .unwrap();
            j.copy_verified(id, "nas", &sha(n), AT).await.unwrap();
            assert_eq!(
                j.refresh_state(id, &dests(&["nas"])).await.unwrap(),
                "verified"
            );
        }
    };
    let tasks = [
        tokio::spawn(run(a.clone(), "a")),
        tokio::spawn(run(b.clone(), "b")),
        tokio::spawn(run(a.clone(), "a2")),
    ];
    for t in tasks {
        t.await.unwrap();
    }
    let status = b.status().await.unwrap();
    assert_eq!(status.len(), 4 * N as usize);
    let shared: Vec<_> = status
        .iter()
        .filter(|s| s.file.rel.starts_with("shared/"))
        .collect();
    assert_eq!(
        shared.len(),
        N as usize,
        "one row per shared path, never two version 1s"
    );
    let verified = status.iter().filter(|s| s.file.state == "verified").count();
    assert_eq!(verified, 3 * N as usize);
    a.close().await;
    b.close().await;
    assert_eq!(integrity_and_mode(&path).await.0, "ok");
}
