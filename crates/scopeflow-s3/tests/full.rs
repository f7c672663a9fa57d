//! A store that runs out of space: the failure is transient and nothing is published.
//!
//! The server's folder is a 2 MiB tmpfs, which takes `mount` (root or CAP_SYS_ADMIN). Where
//! mounting is not allowed the test fails, saying so, unless `SCOPEFLOW_SKIP_TMPFS=1`.
//!
//! s3s-fs answers a full disk with a bare `500 InternalError` (the cause stays in its log), so
//! the error cannot be told from other server faults: it comes back as a transient `Io`, not
//! `Full`. Stores that say `507`, `QuotaExceeded`, `EntityTooLarge` or `XMinioStorageFull` give
//! `Full` (see `error.rs`).
#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};

use scopeflow_testkit::{S3Server, files_under, write_random};
use scopeflow_transfer::{Destination, MANIFEST, RelPath, TransferError};
use support::S3Test;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_owned())),
            other => {
                if std::env::var("SCOPEFLOW_SKIP_TMPFS").as_deref() == Ok("1") {
                    eprintln!("SKIPPED: cannot mount a tmpfs ({other:?})");
                    return None;
                }
                panic!(
                    "this test mounts a small tmpfs (needs root or CAP_SYS_ADMIN) and could not: \
                     {other:?}; set SCOPEFLOW_SKIP_TMPFS=1 to skip it"
                );
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn assert_transient(what: &str, r: Result<impl std::fmt::Debug, TransferError>) {
    match r {
        Err(e) => {
            assert!(e.is_transient(), "{what}: {e:?}");
            assert!(
                matches!(e, TransferError::Full { .. } | TransferError::Io { .. }),
                "{what}: {e:?}"
            );
            eprintln!("{what}: {e}");
        }
        Ok(v) => panic!("{what}: succeeded on a full store: {v:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_is_transient_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mount_point = tmp.path().join("small");
    std::fs::create_dir(&mount_point).unwrap();
    let Some(_mounted) = Tmpfs::mount(&mount_point, "2m") else {
        return;
    };
    let Some(server) = S3Server::start_in(&mount_point) else {
        return;
    };
    let dest = server.destination("site");
    let scratch = tempfile::tempdir().unwrap();
    let stored = server.prefix_dir("site");

    // A record that fits, so the manifest exists before the store fills up.
    let small = scratch.path().join("small.bin");
    write_random(&small, 1000, 1);
    let receipt = dest.put(&small, &rel("raw/small.bin")).await.unwrap();
    let entry = (receipt.files[0].0.clone(), receipt.files[0].1);
    dest.record(std::slice::from_ref(&entry)).await.unwrap();
    let manifest_before = std::fs::read(stored.join(MANIFEST)).unwrap();

    let big = scratch.path().join("big.bin");
    write_random(&big, 3 << 20, 2);
    assert_transient(
        "a file larger than the store",
        dest.put(&big, &rel("raw/big.bin")).await,
    );
    assert!(!stored.join("raw").join("big.bin").exists());

    let folder = scratch.path().join("big.ome.zarr");
    for i in 0..30 {
        write_random(
            &folder.join("0").join("c").join(format!("{i:02}")),
            100_000,
            i,
        );
    }
    let target = rel("ome-zarr/big.ome.zarr");
    assert_transient(
        "a folder larger than the store",
        dest.put(&folder, &target).await,
    );
    let left = files_under(&stored.join("ome-zarr").join("big.ome.zarr"));
    assert!(
        !left.contains(&"0/c/00".to_owned()),
        "the folder's first file marks it complete, yet it is there: {left:?}"
    );

    // Fill what is left, then a record that cannot fit leaves the manifest as it was.
    write_random(&mount_point.join("filler"), 0, 0);
    let mut filler = std::fs::OpenOptions::new()
        .append(true)
        .open(mount_point.join("filler"))
        .unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &block).is_ok() {}
    let many = vec![entry; 3000];
    assert_transient(
        "a manifest update on a full store",
        dest.record(&many).await,
    );
    assert_eq!(
        std::fs::read(stored.join(MANIFEST)).unwrap(),
        manifest_before
    );
    drop(server);
}
