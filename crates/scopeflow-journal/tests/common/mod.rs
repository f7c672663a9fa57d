//! Helpers shared by the integration tests (each test file uses a subset).
#![allow(dead_code)]

use scopeflow_journal::Journal;
use tempfile::TempDir;

/// A fresh journal in a temporary folder named after nothing in particular; the folder lives
/// as long as the returned `TempDir`.
pub async fn journal() -> (TempDir, Journal) {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("state.db")).await.unwrap();
    (dir, j)
}

/// A well-formed sha256 (64 lowercase hex digits) that differs for each `n`.
pub fn sha(n: u32) -> String {
    format!("{n:064x}")
}

pub fn dests(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

pub const AT: &str = "2026-08-01T12:00:00.000Z";

/// Observes and takes a file all the way to `processed`; returns its id.
pub async fn processed(j: &Journal, rel: &str, n: u32) -> i64 {
    let row = j.observe("acq", rel, 100, 1).await.unwrap();
    j.mark_stable(row.id).await.unwrap();
    j.mark_processed(row.id, &sha(n), None).await.unwrap();
    row.id
}
