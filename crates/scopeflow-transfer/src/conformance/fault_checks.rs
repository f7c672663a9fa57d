//! Faults of the storage itself, which every back-end meets sooner or later: out of reach (a
//! server down, a share not mounted) or full. Both must come back as transient errors, so the
//! agent retries later without counting an attempt, and neither may publish anything.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::fixtures::{blocking, check_manifest, write_file};
use super::rel;
use crate::{Destination, MANIFEST, RelPath, TransferError, sha256_file};

/// A destination whose storage is a small file system (about 2 MiB) that the test also sees
/// as a local folder, to look for leftovers and to fill it up.
pub struct FullStorage<'a> {
    pub dest: &'a dyn Destination,
    /// A local folder outside the storage, where the check writes the files it sends.
    pub scratch: &'a Path,
    /// The small file system's mount point.
    pub mount: &'a Path,
    /// The destination root, as a local folder inside `mount`.
    pub root: &'a Path,
    /// The back-end tells a full disk from other faults (`Full`), rather than saying only
    /// "transient" (an S3 server answering a bare `500`).
    pub says_full: bool,
    /// A failed put leaves no file at all on the storage, not even a temporary one (rather
    /// than only publishing nothing: an S3 folder put keeps the objects it sent, to resume).
    pub leaves_nothing: bool,
}

/// With the storage out of reach, `put`, `verify`, `record` and both tidying steps fail with
/// `Unreachable`, which is transient; the error names the destination and each of `names`
/// (the endpoint, say). Returns the file and path it tried, for the caller to send again once
/// the storage is back.
pub async fn unreachable_is_transient(
    dest: &dyn Destination,
    scratch: &Path,
    names: &[&str],
) -> (PathBuf, RelPath) {
    let who = dest.name().to_owned();
    let src = scratch.join("unreachable.bin");
    let s = src.clone();
    blocking(move || write_file(&s, 1000, 11)).await;
    let (digest, size) = sha256_file(&src).await.expect("hashing a scratch file");
    let a = rel("unreachable/raw/a.bin");

    let err = match dest.put(&src, &a).await {
        Err(e) => e,
        Ok(r) => panic!("destination {who}: a put succeeded with the storage out of reach: {r:?}"),
    };
    assert!(
        matches!(err, TransferError::Unreachable { .. }) && err.is_transient(),
        "destination {who}: put: {err:?}"
    );
    let text = err.to_string();
    for name in std::iter::once(who.as_str()).chain(names.iter().copied()) {
        assert!(
            text.contains(name),
            "the error does not name {name:?}: {text}"
        );
    }
    let outcomes = [
        (
            "verify",
            dest.verify(&a, &[(a.clone(), digest, size)])
                .await
                .map(|_| ()),
        ),
        ("record", dest.record(&[(a.clone(), digest)]).await),
        (
            "clean_temporaries",
            dest.clean_temporaries().await.map(|_| ()),
        ),
        ("repair_manifest", dest.repair_manifest().await.map(|_| ())),
    ];
    for (what, r) in outcomes {
        assert!(
            matches!(r, Err(TransferError::Unreachable { .. })),
            "destination {who}: {what}: {r:?}"
        );
    }
    (src, a)
}

/// A full storage gives a transient error (`Full` where the back-end can tell) for a file, a
/// folder and a manifest append; nothing is published, the manifest keeps its bytes and still
/// passes `sha256sum -c`.
pub async fn full_storage_is_transient(f: &FullStorage<'_>) {
    let who = f.dest.name().to_owned();
    let failure = |what: &str, r| must_fail_transiently(&who, f.says_full, what, r);

    // A record that fits, so the manifest exists before the storage fills up.
    let small = f.scratch.join("small.bin");
    fs::write(&small, b"fits").expect("writing a scratch file");
    let receipt = f
        .dest
        .put(&small, &rel("raw/small.bin"))
        .await
        .unwrap_or_else(|e| panic!("destination {who}: a small put failed: {e}"));
    let entry = (receipt.files[0].0.clone(), receipt.files[0].1);
    f.dest
        .record(std::slice::from_ref(&entry))
        .await
        .unwrap_or_else(|e| panic!("destination {who}: a small record failed: {e}"));
    let manifest_before = fs::read(f.root.join(MANIFEST)).expect("reading the manifest");
    let stored_before = files_under(f.mount);

    let big = f.scratch.join("big.bin");
    let b = big.clone();
    blocking(move || write_file(&b, 3 << 20, 2)).await;
    let r = f.dest.put(&big, &rel("raw/big.bin")).await.map(|_| ());
    failure("a file larger than the storage", r);
    assert!(!f.root.join("raw").join("big.bin").exists());
    if f.leaves_nothing {
        assert_eq!(files_under(f.mount), stored_before, "left behind");
    }

    let folder = f.scratch.join("big.ome.zarr");
    let d = folder.clone();
    blocking(move || {
        (0..30u64).try_for_each(|i| {
            write_file(&d.join("0").join("c").join(format!("{i:02}")), 100_000, i)
        })
    })
    .await;
    let r = f.dest.put(&folder, &rel("ome-zarr/big.ome.zarr")).await;
    failure("a folder larger than the storage", r.map(|_| ()));
    let stored = f.root.join("ome-zarr").join("big.ome.zarr");
    let left = files_under(&stored);
    assert!(
        !left.contains(&"0/c/00".to_owned()),
        "the folder's first file marks it complete, yet it is there: {left:?}"
    );
    if f.leaves_nothing {
        assert_eq!(files_under(f.mount), stored_before, "left behind");
        let folders = fs::read_dir(f.root.join("ome-zarr")).map_or(0, Iterator::count);
        assert_eq!(folders, 0, "a temporary folder was left");
    }

    // Fill what is left, then a record that cannot fit leaves the manifest as it was.
    let filler = f.mount.join("filler");
    blocking(move || fill(&filler)).await;
    let r = f.dest.record(&vec![entry; 3000]).await;
    failure("a manifest update on a full storage", r);
    let manifest_after = fs::read(f.root.join(MANIFEST)).expect("reading the manifest");
    assert_eq!(
        manifest_after, manifest_before,
        "a failed append left bytes"
    );
    if let Err(e) = check_manifest(f.root) {
        panic!("destination {who}: {e}");
    }
}

/// `r` failed in a way worth retrying: `Full` when `says_full`, else `Full` or `Io`.
fn must_fail_transiently(who: &str, says_full: bool, what: &str, r: Result<(), TransferError>) {
    match r {
        Err(e) => {
            assert!(e.is_transient(), "destination {who}: {what}: {e:?}");
            if says_full {
                assert!(
                    matches!(e, TransferError::Full { .. }),
                    "destination {who}: {what}: {e:?}"
                );
            } else {
                assert!(
                    matches!(e, TransferError::Full { .. } | TransferError::Io { .. }),
                    "destination {who}: {what}: {e:?}"
                );
            }
        }
        Ok(()) => panic!("destination {who}: {what} succeeded on a full storage"),
    }
}

/// Writes zeros to `path` until the file system is full.
fn fill(path: &Path) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    let _ = f.sync_all();
    Ok(())
}

/// Every file under `dir`, as '/'-separated paths relative to it, sorted (empty when `dir`
/// does not exist).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(e.path());
            } else if let Ok(sub) = e.path().strip_prefix(dir) {
                let parts: Vec<String> = sub
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    out
}
