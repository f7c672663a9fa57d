//! `put_derived` at a local folder: a derived output (an OME-Zarr) on the destination's
//! filesystem is published by linking its files, still read back and checked; elsewhere it is
//! copied; a plain `put` (raw files) always copies; `put_known` copies a raw file without
//! hashing it again, and publishes it only if it reads back as the digest it was given; the
//! same holds for the files of a derived output whose digests the caller wrote down.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use scopeflow_transfer::{
    Destination, Digest, KnownDigests, LocalDestination, Receipt, RelPath, TransferError,
};
use sha2::{Digest as _, Sha256};

const FILES: [(&str, &[u8]); 3] = [
    ("zarr.json", b"{\"zarr_format\": 3}"),
    ("0/zarr.json", b"{\"node_type\": \"array\"}"),
    ("0/c/0/0", b"\x28\xb5\x2f\xfd chunk bytes"),
];

/// A small OME-Zarr-like tree under `base/image.ome.zarr`.
fn zarr(base: &Path) -> PathBuf {
    let top = base.join("image.ome.zarr");
    for (sub, bytes) in FILES {
        let p = top.join(sub);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    top
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// The receipt lists every file with the sha256 of its bytes (computed here, independently).
fn check_receipt(receipt: &Receipt) {
    let mut want: Vec<(String, String, u64)> = FILES
        .iter()
        .map(|(sub, bytes)| {
            let sha = hex::encode(Sha256::digest(bytes));
            (
                format!("ome-zarr/x.ome.zarr/{sub}"),
                sha,
                bytes.len() as u64,
            )
        })
        .collect();
    want.sort();
    let got: Vec<(String, String, u64)> = receipt
        .files
        .iter()
        .map(|(r, d, n)| (r.to_string(), d.to_hex(), *n))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_derived_tree_on_the_same_filesystem_is_linked_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let src = zarr(&tmp.path().join("work"));
    let dest = LocalDestination::new("nas", &tmp.path().join("nas"));
    let target = rel("ome-zarr/x.ome.zarr");
    let receipt = dest
        .put_derived(&src, &target, &KnownDigests::new())
        .await
        .unwrap();
    check_receipt(&receipt);
    for (sub, _) in FILES {
        let (a, b) = (src.join(sub), target.under(dest.root()).join(sub));
        let (a, b) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "{sub}: not linked");
    }
    dest.verify(&target, &receipt.files).await.unwrap();
    // Retried after a crash: the same tree is already there, nothing is rewritten.
    let again = dest
        .put_derived(&src, &target, &KnownDigests::new())
        .await
        .unwrap();
    assert_eq!(again.files, receipt.files);
    // The work folder goes once the copy is recorded; the published copy stays whole.
    fs::remove_dir_all(&src).unwrap();
    dest.verify(&target, &receipt.files).await.unwrap();
}

/// What the converter reports: each file's digest as it wrote it.
fn known(files: &[(&str, &[u8])]) -> KnownDigests {
    files
        .iter()
        .map(|(sub, bytes)| {
            let d = Digest(Sha256::digest(bytes).into());
            (sub.to_string(), (d, bytes.len() as u64))
        })
        .collect()
}

#[tokio::test]
async fn known_digests_are_what_the_stored_files_are_checked_against() {
    let tmp = tempfile::tempdir().unwrap();
    let src = zarr(&tmp.path().join("work"));
    let dest = LocalDestination::new("nas", &tmp.path().join("nas"));
    // Two of the three files known; the third is hashed as usual.
    let receipt = dest
        .put_derived(&src, &rel("ome-zarr/x.ome.zarr"), &known(&FILES[..2]))
        .await
        .unwrap();
    check_receipt(&receipt);

    // The chunk on disk is not what the converter wrote (damaged after writing, same size):
    // the read-back shows it, and nothing is published.
    let mut wrote = FILES.to_vec();
    wrote[2].1 = b"\x28\xb5\x2f\xfd chunk bytez";
    let target = rel("ome-zarr/y.ome.zarr");
    let err = dest
        .put_derived(&src, &target, &known(&wrote))
        .await
        .unwrap_err();
    refused_cleanly(&err, "0/c/0/0", &dest, &target, "x.ome.zarr");
}

/// `err` is an unpublished mismatch naming `needle`; nothing is at `target`, and its folder
/// holds only `kept` (no temporary left).
fn refused_cleanly(
    err: &TransferError,
    needle: &str,
    dest: &LocalDestination,
    target: &RelPath,
    kept: &str,
) {
    match err {
        TransferError::Mismatch {
            published: false,
            detail,
            ..
        } => assert!(detail.contains(needle), "{detail}"),
        e => panic!("expected an unpublished mismatch, got {e:?}"),
    }
    let stored = target.under(dest.root());
    assert!(!stored.exists());
    let names: Vec<_> = fs::read_dir(stored.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec![kept.to_string()], "no temporary left");
}

#[tokio::test]
async fn a_plain_put_always_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let src = zarr(&tmp.path().join("work"));
    let dest = LocalDestination::new("nas", &tmp.path().join("nas"));
    let target = rel("ome-zarr/x.ome.zarr");
    let receipt = dest.put(&src, &target).await.unwrap();
    check_receipt(&receipt);
    for (sub, _) in FILES {
        let b = fs::metadata(target.under(dest.root()).join(sub)).unwrap();
        assert_eq!(b.nlink(), 1, "{sub}: a put must make an independent copy");
    }
}

#[tokio::test]
async fn another_filesystem_gets_a_copy() {
    // /dev/shm is a tmpfs on Linux; the temporary folder is on the disk.
    let shm = Path::new("/dev/shm");
    if !cfg!(target_os = "linux") || !shm.is_dir() {
        return;
    }
    let work = tempfile::tempdir_in(shm).unwrap();
    let src = zarr(work.path());
    let tmp = tempfile::tempdir().unwrap();
    assert_ne!(
        fs::metadata(work.path()).unwrap().dev(),
        fs::metadata(tmp.path()).unwrap().dev(),
        "the test needs two filesystems"
    );
    let dest = LocalDestination::new("nas", &tmp.path().join("nas"));
    let target = rel("ome-zarr/x.ome.zarr");
    let receipt = dest
        .put_derived(&src, &target, &KnownDigests::new())
        .await
        .unwrap();
    check_receipt(&receipt);
    for (sub, _) in FILES {
        let b = fs::metadata(target.under(dest.root()).join(sub)).unwrap();
        assert_eq!(b.nlink(), 1, "{sub}");
    }
    // Copied with the digests known: checked against them, not against the source.
    let receipt = dest
        .put_derived(&src, &rel("ome-zarr/k.ome.zarr"), &known(&FILES))
        .await
        .unwrap();
    assert_eq!(receipt.files.len(), FILES.len());
    let mut wrote = FILES.to_vec();
    wrote[0].1 = b"{\"zarr_format\": 2}";
    let err = dest
        .put_derived(&src, &rel("ome-zarr/w.ome.zarr"), &known(&wrote))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransferError::Mismatch {
                published: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_known_raw_file_is_copied_and_checked_against_its_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("cell.tif");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&raw, &bytes).unwrap();
    let digest = Digest(Sha256::digest(&bytes).into());
    let dest = LocalDestination::new("nas", &tmp.path().join("nas"));
    let target = rel("raw/cell.tif");

    let receipt = dest
        .put_known(&raw, &target, (digest, bytes.len() as u64))
        .await
        .unwrap();
    assert_eq!(
        receipt.files,
        vec![(target.clone(), digest, bytes.len() as u64)]
    );
    let stored = target.under(dest.root());
    assert_eq!(fs::read(&stored).unwrap(), bytes);
    assert_eq!(
        fs::metadata(&stored).unwrap().nlink(),
        1,
        "a raw copy is independent"
    );

    // The file changed after it was hashed (same size): the copy does not read back as the
    // digest given, so nothing is published under the name and nothing is left beside it.
    let mut changed = bytes.clone();
    changed[1_234_567] ^= 0xff;
    fs::write(&raw, &changed).unwrap();
    let other = rel("raw/changed.tif");
    let err = dest
        .put_known(&raw, &other, (digest, bytes.len() as u64))
        .await
        .unwrap_err();
    refused_cleanly(&err, "changed since", &dest, &other, "cell.tif");

    // Sent again with the right digest where the first copy lies: it is already there.
    let again = dest
        .put_known(
            &raw,
            &target,
            (Digest(Sha256::digest(&changed).into()), bytes.len() as u64),
        )
        .await;
    assert!(
        matches!(again, Err(TransferError::Conflict { .. })),
        "{again:?}"
    );
}
