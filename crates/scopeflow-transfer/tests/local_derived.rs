//! `put_derived` at a local folder: a derived output (an OME-Zarr) on the destination's
//! filesystem is published by linking its files, still read back and checked; elsewhere it is
//! copied; and a plain `put` (raw files) always copies.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use scopeflow_transfer::{Destination, LocalDestination, Receipt, RelPath};
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
    let receipt = dest.put_derived(&src, &target).await.unwrap();
    check_receipt(&receipt);
    for (sub, _) in FILES {
        let (a, b) = (src.join(sub), target.under(dest.root()).join(sub));
        let (a, b) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "{sub}: not linked");
    }
    dest.verify(&target, &receipt.files).await.unwrap();
    // Retried after a crash: the same tree is already there, nothing is rewritten.
    let again = dest.put_derived(&src, &target).await.unwrap();
    assert_eq!(again.files, receipt.files);
    // The work folder goes once the copy is recorded; the published copy stays whole.
    fs::remove_dir_all(&src).unwrap();
    dest.verify(&target, &receipt.files).await.unwrap();
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
    let receipt = dest.put_derived(&src, &target).await.unwrap();
    check_receipt(&receipt);
    for (sub, _) in FILES {
        let b = fs::metadata(target.under(dest.root()).join(sub)).unwrap();
        assert_eq!(b.nlink(), 1, "{sub}");
    }
}
