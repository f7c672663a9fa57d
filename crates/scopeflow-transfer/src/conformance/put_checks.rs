use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::fixtures::{blocking, write_file, write_zarr_like};
use super::{Harness, expect_ok, rel};
use crate::digest::BLOCK;
use crate::{Digest, RelPath, TransferError, sha256_file};

/// A scratch file of `size` bytes and its sha256.
pub(super) async fn source_file(
    h: &Harness<'_>,
    name: &str,
    size: usize,
    seed: u64,
) -> (PathBuf, Digest, u64) {
    let path = h.scratch.join(name);
    let p = path.clone();
    blocking(move || write_file(&p, size, seed)).await;
    let (digest, n) = sha256_file(&path).await.expect("hashing a scratch file");
    (path, digest, n)
}

/// A scratch OME-Zarr-like folder and the receipt list a put of it to `rel` must return.
pub(super) async fn source_tree(
    h: &Harness<'_>,
    name: &str,
    seed: u64,
    rel: &RelPath,
) -> (PathBuf, Vec<(RelPath, Digest, u64)>) {
    let dir = h.scratch.join(name);
    let d = dir.clone();
    let subs = blocking(move || write_zarr_like(&d, seed)).await;
    let mut expected = Vec::with_capacity(subs.len());
    for sub in &subs {
        let mut p = dir.clone();
        p.extend(sub.split('/'));
        let (digest, n) = sha256_file(&p).await.expect("hashing a scratch file");
        expected.push((rel.join(sub).expect("fixture names are valid"), digest, n));
    }
    (dir, expected)
}

fn assert_utc_time(h: &Harness<'_>, at: &str) {
    let ok =
        chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|t| t.offset().local_minus_utc() == 0);
    assert!(
        ok,
        "destination {}: {at:?} is not an RFC 3339 UTC time",
        h.who()
    );
}

/// A put returns the read-back digest of what was sent, and verify accepts it; also for an
/// empty file and one ending just past a block boundary.
pub async fn put_then_verify(h: &Harness<'_>) {
    for (i, size) in [3 * BLOCK + 17, 0].into_iter().enumerate() {
        let (src, digest, n) =
            source_file(h, &format!("put_then_verify-{i}.bin"), size, 1 + i as u64).await;
        let rel = rel(&format!("put_then_verify/raw/{i}.bin"));
        let receipt = expect_ok(h, "put", h.dest.put(&src, &rel).await);
        assert_eq!(
            receipt.files,
            vec![(rel.clone(), digest, n)],
            "destination {}: receipt",
            h.who()
        );
        assert_utc_time(h, &receipt.verified_at);
        let verified = expect_ok(h, "verify", h.dest.verify(&rel, &receipt.files).await);
        assert_eq!(
            (verified.files, verified.bytes),
            (1, n),
            "destination {}: verified",
            h.who()
        );
        assert_utc_time(h, &verified.at);
        let seen = h.backdoor.peek(&rel).await.expect("peek");
        assert_eq!(
            seen,
            Some((digest, n)),
            "destination {}: stored bytes",
            h.who()
        );
    }
}

/// An observer polling the target during a large put never sees it partial: the target is
/// either absent or complete. Checked for one large file and for a folder (its first file
/// present means its last file is present and complete too).
pub async fn put_is_atomic(h: &Harness<'_>) {
    let (src, digest, n) = source_file(h, "put_is_atomic.bin", 48 * BLOCK + 5, 3).await;
    let rel_file = rel("put_is_atomic/raw/big.bin");
    let done = AtomicBool::new(false);
    let put = async {
        let r = h.dest.put(&src, &rel_file).await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let watch = async {
        let mut polls = 0;
        while !done.load(Ordering::SeqCst) {
            if let Some(seen) = h.backdoor.peek(&rel_file).await.expect("peek") {
                assert_eq!(
                    seen,
                    (digest, n),
                    "destination {}: observer saw a partial file",
                    h.who()
                );
            }
            polls += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        polls
    };
    let (put, polls) = tokio::join!(put, watch);
    expect_ok(h, "large put", put);
    assert!(polls > 0, "the observer never ran during the put");
    assert_eq!(
        h.backdoor.peek(&rel_file).await.expect("peek"),
        Some((digest, n))
    );

    let rel_dir = rel("put_is_atomic/ome-zarr/big.ome.zarr");
    let dir = h.scratch.join("put_is_atomic.ome.zarr");
    let d = dir.clone();
    blocking(move || {
        for i in 0..24 {
            write_file(&d.join(format!("chunk-{i:02}")), BLOCK, 100 + i)?;
        }
        Ok(())
    })
    .await;
    let first = rel_dir.join("chunk-00").expect("valid");
    let last = rel_dir.join("chunk-23").expect("valid");
    let last_digest = sha256_file(&dir.join("chunk-23")).await.expect("hash");
    let done = AtomicBool::new(false);
    let put = async {
        let r = h.dest.put(&dir, &rel_dir).await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let watch = async {
        while !done.load(Ordering::SeqCst) {
            if h.backdoor.peek(&first).await.expect("peek").is_some() {
                let seen = h.backdoor.peek(&last).await.expect("peek");
                assert_eq!(
                    seen,
                    Some(last_digest),
                    "destination {}: observer saw a partial folder",
                    h.who()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    let (put, ()) = tokio::join!(put, watch);
    let receipt = expect_ok(h, "folder put", put);
    assert_eq!(receipt.files.len(), 24);
}

/// Sending the same file or folder again succeeds with the same receipt and leaves the
/// stored copy as it was.
pub async fn put_twice_is_idempotent(h: &Harness<'_>) {
    let (src, digest, n) = source_file(h, "put_twice.bin", BLOCK + 3, 4).await;
    let rel_file = rel("put_twice_is_idempotent/raw/a.bin");
    let first = expect_ok(h, "first put", h.dest.put(&src, &rel_file).await);
    let second = expect_ok(
        h,
        "second put of the same file",
        h.dest.put(&src, &rel_file).await,
    );
    assert_eq!(first.files, second.files, "destination {}", h.who());
    assert_eq!(
        h.backdoor.peek(&rel_file).await.expect("peek"),
        Some((digest, n))
    );

    let rel_dir = rel("put_twice_is_idempotent/ome-zarr/a.ome.zarr");
    let (dir, expected) = source_tree(h, "put_twice.ome.zarr", 5, &rel_dir).await;
    let first = expect_ok(h, "first folder put", h.dest.put(&dir, &rel_dir).await);
    let second = expect_ok(
        h,
        "second put of the same folder",
        h.dest.put(&dir, &rel_dir).await,
    );
    assert_eq!(first.files, expected, "destination {}", h.who());
    assert_eq!(second.files, expected, "destination {}", h.who());
}

fn assert_conflict(h: &Harness<'_>, what: &str, r: Result<crate::Receipt, TransferError>) {
    match r {
        Err(e @ TransferError::Conflict { .. }) => {
            assert!(!e.is_transient(), "a conflict must not be retried");
        }
        other => panic!(
            "destination {}: {what}: expected Conflict, got {other:?}",
            h.who()
        ),
    }
}

/// Different content at a taken path is refused with `Conflict`, and the stored copy stays
/// intact: same size but other bytes, another size, a changed folder, a file over a folder
/// and a folder over a file.
pub async fn put_conflict_is_refused(h: &Harness<'_>) {
    let (a, digest_a, n_a) = source_file(h, "conflict-a.bin", 2 * BLOCK, 6).await;
    let (b, _, _) = source_file(h, "conflict-b.bin", 2 * BLOCK, 7).await;
    let (c, _, _) = source_file(h, "conflict-c.bin", 10, 8).await;
    let rel_file = rel("put_conflict_is_refused/raw/a.bin");
    let receipt = expect_ok(h, "put", h.dest.put(&a, &rel_file).await);
    assert_conflict(h, "same size, other bytes", h.dest.put(&b, &rel_file).await);
    assert_conflict(h, "other size", h.dest.put(&c, &rel_file).await);
    assert_eq!(
        h.backdoor.peek(&rel_file).await.expect("peek"),
        Some((digest_a, n_a))
    );
    expect_ok(
        h,
        "verify after refused puts",
        h.dest.verify(&rel_file, &receipt.files).await,
    );

    let rel_dir = rel("put_conflict_is_refused/ome-zarr/a.ome.zarr");
    let (dir, _) = source_tree(h, "conflict.ome.zarr", 9, &rel_dir).await;
    let stored = expect_ok(h, "folder put", h.dest.put(&dir, &rel_dir).await);
    let changed = dir.join("0").join("c").join("1").join("1").join("1");
    blocking(move || write_file(&changed, 300, 999)).await;
    assert_conflict(
        h,
        "a folder with one chunk changed",
        h.dest.put(&dir, &rel_dir).await,
    );
    assert_conflict(h, "a file over a folder", h.dest.put(&a, &rel_dir).await);
    assert_conflict(h, "a folder over a file", h.dest.put(&dir, &rel_file).await);
    expect_ok(
        h,
        "verify the folder after refused puts",
        h.dest.verify(&rel_dir, &stored.files).await,
    );
}

fn assert_damaged(
    h: &Harness<'_>,
    what: &str,
    r: Result<crate::Verified, TransferError>,
    names: &str,
) {
    match r {
        Err(
            e @ TransferError::Mismatch {
                published: true, ..
            },
        ) => {
            assert!(
                !e.is_transient(),
                "a damaged stored copy is not a retry matter"
            );
            assert!(
                e.to_string().contains(names),
                "destination {}: {e} does not name {names}",
                h.who()
            );
        }
        other => panic!(
            "destination {}: {what}: expected Mismatch, got {other:?}",
            h.who()
        ),
    }
}

/// One byte flipped behind the destination's back (a file, one chunk of a folder), or a file
/// that is not there, makes verify fail with `Mismatch`.
pub async fn verify_detects_corruption(h: &Harness<'_>) {
    let (src, _, n) = source_file(h, "corrupt.bin", 2 * BLOCK + 9, 10).await;
    let rel_file = rel("verify_detects_corruption/raw/a.bin");
    let receipt = expect_ok(h, "put", h.dest.put(&src, &rel_file).await);
    expect_ok(
        h,
        "verify before damage",
        h.dest.verify(&rel_file, &receipt.files).await,
    );
    h.backdoor
        .flip_byte(&rel_file, n / 2)
        .await
        .expect("flip a byte");
    assert_damaged(
        h,
        "a flipped byte",
        h.dest.verify(&rel_file, &receipt.files).await,
        "a.bin",
    );

    let rel_dir = rel("verify_detects_corruption/ome-zarr/a.ome.zarr");
    let (dir, _) = source_tree(h, "corrupt.ome.zarr", 11, &rel_dir).await;
    let receipt = expect_ok(h, "folder put", h.dest.put(&dir, &rel_dir).await);
    let victim = rel_dir.join("1/c/1/2/0").expect("valid");
    h.backdoor.flip_byte(&victim, 0).await.expect("flip a byte");
    assert_damaged(
        h,
        "a flipped byte in one chunk",
        h.dest.verify(&rel_dir, &receipt.files).await,
        "1/c/1/2/0",
    );

    let never = rel("verify_detects_corruption/raw/never-sent.bin");
    let expected = [(never.clone(), receipt.files[0].1, 1)];
    assert_damaged(
        h,
        "a missing file",
        h.dest.verify(&never, &expected).await,
        "missing",
    );
}

/// A folder of 150 files in nested folders, like an OME-Zarr: every file is in the receipt,
/// sorted, with its read-back sha256, and verify accepts the lot.
pub async fn folder_put_then_verify(h: &Harness<'_>) {
    let rel_dir = rel("folder_put_then_verify/ome-zarr/plate/a.ome.zarr");
    let (dir, expected) = source_tree(h, "folder.ome.zarr", 12, &rel_dir).await;
    assert!(expected.len() >= 100);
    let receipt = expect_ok(h, "folder put", h.dest.put(&dir, &rel_dir).await);
    assert_eq!(
        receipt.files,
        expected,
        "destination {}: folder receipt",
        h.who()
    );
    assert_utc_time(h, &receipt.verified_at);
    let verified = expect_ok(
        h,
        "folder verify",
        h.dest.verify(&rel_dir, &receipt.files).await,
    );
    let bytes: u64 = expected.iter().map(|(_, _, n)| n).sum();
    assert_eq!((verified.files, verified.bytes), (expected.len(), bytes));
    for (path, digest, n) in [&expected[0], &expected[expected.len() - 1]] {
        assert_eq!(
            h.backdoor.peek(path).await.expect("peek"),
            Some((*digest, *n))
        );
    }
}
