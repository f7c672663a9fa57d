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

use scopeflow_testkit::S3Server;
use scopeflow_transfer::conformance;
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
    conformance::full_storage_is_transient(&conformance::FullStorage {
        dest: &dest,
        scratch: scratch.path(),
        mount: &mount_point,
        root: &server.prefix_dir("site"),
        says_full: false,
        leaves_nothing: false,
    })
    .await;
    drop(server);
}
