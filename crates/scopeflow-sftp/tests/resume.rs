//! A server killed in the middle of a put (sshd and every session it forked, as a crash or a
//! cut cable would): the put resumes instead of starting over, and the copy verifies.
//!
//! The evidence is timing-free: files complete before the kill keep their modification time
//! (never rewritten), and the destination's own count of what went over the wire.

#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use scopeflow_testkit::{Sshd, write_random};
use scopeflow_transfer::{Destination, RelPath, TransferError};
use support::SftpSshd;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// The temporary the put is writing beside `parent`, once it exists.
fn temporary_in(parent: &Path) -> Option<PathBuf> {
    fs::read_dir(parent)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().contains(".scopeflow-tmp-"))
        .map(|e| e.path())
}

/// Waits (bounded) until `ready` says the put is far enough along.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

const FILES: usize = 400;
const CHUNK: usize = 150_000;

/// Files of the temporary folder that are complete, with their modification times.
fn complete_files(temp: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(temp.join("0")).into_iter().flatten().flatten() {
        if let Ok(m) = e.metadata()
            && m.len() == CHUNK as u64
        {
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                m.modified().unwrap(),
            );
        }
    }
    out
}

/// The server dies while a folder of 400 chunks is on its way and is back a moment later:
/// the same put reconnects, does not send again what was done, and publishes a copy that
/// verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_put_reconnects_and_keeps_what_was_sent() {
    folder_resumes(false).await;
}

/// The server dies while a folder is on its way and stays down until the put gives up
/// (`Unreachable`); a new destination (as after an agent restart) finds the temporary folder
/// and sends only what is missing from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_put_resumes_after_an_agent_restart() {
    folder_resumes(true).await;
}

async fn folder_resumes(give_up: bool) {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let src = sshd.scratch.join("a.ome.zarr");
    for i in 0..FILES {
        write_random(&src.join("0").join(i.to_string()), CHUNK, i as u64);
    }
    let first = sshd.destination("meso");
    let target = rel("ome-zarr/a.ome.zarr");
    let put = tokio::spawn({
        let (dest, src, target) = (first.clone(), src.clone(), target.clone());
        async move { dest.put(&src, &target).await }
    });
    let parent = sshd.root.join("ome-zarr");
    let mut kept = BTreeMap::new();
    wait_for("a quarter of the folder on the server", || {
        kept = temporary_in(&parent)
            .map(|t| complete_files(&t))
            .unwrap_or_default();
        kept.len() >= FILES / 4
    });
    assert!(
        !put.is_finished(),
        "the put finished before the server could be killed"
    );
    sshd.kill();
    let (dest, receipt) = if give_up {
        let err = put.await.unwrap().unwrap_err();
        assert!(matches!(err, TransferError::Unreachable { .. }), "{err:?}");
        let temp = temporary_in(&parent).expect("the temporary folder is kept for resuming");
        kept = complete_files(&temp);
        sshd.restart();
        let dest = sshd.destination("meso");
        assert_eq!(
            dest.clean_temporaries().await.unwrap(),
            0,
            "a fresh temporary is kept"
        );
        let receipt = dest.put(&src, &target).await.unwrap();
        (dest, receipt)
    } else {
        std::thread::sleep(Duration::from_millis(300));
        sshd.restart();
        let receipt = put
            .await
            .unwrap()
            .expect("the put resumes once the server is back");
        (first, receipt)
    };
    assert_eq!(receipt.files.len(), FILES);
    for (name, mtime) in &kept {
        let published = sshd
            .root
            .join("ome-zarr")
            .join("a.ome.zarr")
            .join("0")
            .join(name);
        assert_eq!(
            fs::metadata(&published).unwrap().modified().unwrap(),
            *mtime,
            "{name} was complete before the kill and was written again"
        );
    }
    // The first destination counted what it sent before the kill too; a new one only after.
    let allowed = if give_up { FILES - kept.len() } else { FILES } + 4;
    let sent = dest.sent();
    assert!(
        sent.files <= allowed as u64,
        "{} files sent for {FILES}, {} of them already there: the put started over",
        sent.files,
        kept.len()
    );
    dest.verify(&target, &receipt.files).await.unwrap();
    assert!(temporary_in(&parent).is_none(), "the temporary is left");
}

/// The server dies in the middle of a large file and stays down until the put gives up
/// (`Unreachable`, retried later); a new destination (as after an agent restart) completes the
/// partial copy instead of sending it all again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_resumes_after_the_put_gave_up() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let size: u64 = 256 << 20;
    let src = sshd.scratch.join("big.raw");
    write_random(&src, size as usize, 7);
    let target = rel("raw/big.raw");
    let put = tokio::spawn({
        let (dest, src, target) = (sshd.destination("meso"), src.clone(), target.clone());
        async move { dest.put(&src, &target).await }
    });
    let parent = sshd.root.join("raw");
    wait_for("a quarter of the file on the server", || {
        temporary_in(&parent)
            .and_then(|t| fs::metadata(t).ok())
            .is_some_and(|m| m.len() >= size / 4)
    });
    assert!(
        !put.is_finished(),
        "the put finished before the server could be killed"
    );
    sshd.kill();
    let err = put.await.unwrap().unwrap_err();
    assert!(matches!(err, TransferError::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    let temp = temporary_in(&parent).expect("the partial copy is kept for resuming");
    let kept = fs::metadata(&temp).unwrap().len();
    assert!(kept >= size / 4 && kept < size, "{kept}");

    sshd.restart();
    let dest = sshd.destination("meso");
    assert_eq!(
        dest.clean_temporaries().await.unwrap(),
        0,
        "a fresh partial copy is kept"
    );
    let receipt = dest.put(&src, &target).await.unwrap();
    let sent = dest.sent().bytes;
    assert!(
        sent <= size - kept + (512 << 10),
        "{sent} bytes sent again though {kept} of {size} were on the server"
    );
    dest.verify(&target, &receipt.files).await.unwrap();
    let (digest, n) = scopeflow_transfer::sha256_file(&src).await.unwrap();
    assert_eq!(receipt.files, vec![(target, digest, n)]);
    assert!(temporary_in(&parent).is_none());
}
