//! `status_each` reads the journal in pages of files with their copies nested: across page
//! boundaries, with paging and filters, it must list exactly the rows the journal holds, in
//! (watch, path, version) order, each with its own copies and format.

mod common;

use std::ops::ControlFlow;

use common::{journal, sha};
use scopeflow_core::FileState;
use scopeflow_journal::{FileStatus, Journal, StatusQuery};

/// More files than two of `status`'s pages (1,000 files each), inserted out of order.
const FILES: usize = 2345;

fn rel(i: usize) -> String {
    // Insertion order differs from path order, so a page must not follow row ids.
    format!("plate{}/well_{:05}.tif", i % 3, (i * 7919) % FILES)
}

async fn listed(j: &Journal, q: &StatusQuery) -> Vec<FileStatus> {
    let mut out = Vec::new();
    j.status_each(q, |s| {
        out.push(s);
        ControlFlow::Continue(())
    })
    .await
    .unwrap();
    out
}

/// The journal with `FILES` files: every 5th processed (with a format), every 10th of those
/// copied to two destinations (one verified), every 7th failed.
async fn filled() -> (tempfile::TempDir, Journal) {
    let (dir, j) = journal().await;
    let seen: Vec<(String, u64, i64)> = (0..FILES).map(|i| (rel(i), 100 + i as u64, 1)).collect();
    let rows = j.observe_many("acq", &seen).await.unwrap();
    for (i, row) in rows.iter().enumerate() {
        if i % 7 == 0 {
            j.mark_stable(row.id).await.unwrap();
            j.mark_failed(
                row.id,
                &format!("bad {i}"),
                1,
                std::time::Duration::ZERO,
                std::time::Duration::ZERO,
            )
            .await
            .unwrap();
        } else if i % 5 == 0 {
            j.mark_stable(row.id).await.unwrap();
            let qc = format!(r#"{{"inspect": {{"format": "fmt{}"}}}}"#, i % 4);
            j.mark_processed(row.id, &sha(i as u32), Some(&qc))
                .await
                .unwrap();
            if i % 10 == 0 {
                let s = sha(i as u32);
                j.copy_transferred(row.id, "nas", &s, &rel(i))
                    .await
                    .unwrap();
                j.copy_transferred(row.id, "aws", &s, &rel(i))
                    .await
                    .unwrap();
                j.copy_verified(row.id, "nas", &s, "2026-08-01T12:00:00Z")
                    .await
                    .unwrap();
            }
        }
    }
    (dir, j)
}

#[tokio::test]
async fn pages_list_every_row_once_in_order_with_its_own_copies() {
    let (_dir, j) = filled().await;
    let all = listed(&j, &StatusQuery::default()).await;
    assert_eq!(all.len(), FILES);
    let mut want: Vec<String> = (0..FILES).map(rel).collect();
    want.sort();
    let got: Vec<String> = all.iter().map(|s| s.file.rel.clone()).collect();
    assert_eq!(got, want, "every file once, in path order");

    for s in &all {
        // Each row as the journal's single-row reads give it.
        assert_eq!(s.file, j.get(s.file.id).await.unwrap());
        let mut copies = j.copies(s.file.id).await.unwrap();
        copies.sort_by(|a, b| a.destination.cmp(&b.destination));
        assert_eq!(s.copies, copies, "{}", s.file.rel);
        let i = (0..FILES).find(|&i| rel(i) == s.file.rel).unwrap();
        let format = (i % 7 != 0 && i % 5 == 0).then(|| format!("fmt{}", i % 4));
        assert_eq!(s.format, format, "{}", s.file.rel);
    }
    assert_eq!(
        all.iter().filter(|s| s.copies.len() == 2).count(),
        (0..FILES).filter(|i| i % 7 != 0 && i % 10 == 0).count()
    );
}

#[tokio::test]
async fn paging_and_filters_cross_page_boundaries() {
    let (_dir, j) = filled().await;
    let all = listed(&j, &StatusQuery::default()).await;

    // A page that starts inside the first page and ends inside the third.
    let page = listed(
        &j,
        &StatusQuery {
            limit: Some(1300),
            offset: 900,
            ..StatusQuery::default()
        },
    )
    .await;
    assert_eq!(page, all[900..2200].to_vec());

    // An offset past the end lists nothing; a limit of 0 too.
    let none = StatusQuery {
        offset: FILES as u64,
        ..StatusQuery::default()
    };
    assert!(listed(&j, &none).await.is_empty());
    let zero = StatusQuery {
        limit: Some(0),
        ..StatusQuery::default()
    };
    assert!(listed(&j, &zero).await.is_empty());

    // A state filter, then the same filter with an offset.
    let states = vec![FileState::Quarantined, FileState::Failed];
    let failed = listed(
        &j,
        &StatusQuery {
            states: states.clone(),
            ..StatusQuery::default()
        },
    )
    .await;
    let want: Vec<FileStatus> = all
        .iter()
        .filter(|s| states.contains(&s.file.state))
        .cloned()
        .collect();
    assert_eq!(failed.len(), FILES.div_ceil(7));
    assert_eq!(failed, want);
    let later = listed(
        &j,
        &StatusQuery {
            states,
            offset: 100,
            limit: Some(200),
            ..StatusQuery::default()
        },
    )
    .await;
    assert_eq!(later, want[100..300].to_vec());

    // Stopping early stops the walk.
    let mut seen = 0;
    j.status_each(&StatusQuery::default(), |_| {
        seen += 1;
        if seen == 1001 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await
    .unwrap();
    assert_eq!(seen, 1001);
}
