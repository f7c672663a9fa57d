//! The manifest as S3 keeps it (read-modify-write, conditional on the ETag), and clean-up of
//! unfinished uploads.

mod support;

use std::time::{Duration, Instant};

use scopeflow_s3::{MIN_PART_SIZE, S3Destination};
use scopeflow_testkit::{S3Server, write_random};
use scopeflow_transfer::{Destination, Digest, MANIFEST, RelPath, TransferError};
use support::S3Test;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

async fn put(
    dest: &S3Destination,
    scratch: &std::path::Path,
    name: &str,
    seed: u64,
) -> (RelPath, Digest) {
    let src = scratch.join(name.replace('/', "_"));
    write_random(&src, 500 + seed as usize, seed);
    let r = dest.put(&src, &rel(name)).await.unwrap();
    (r.files[0].0.clone(), r.files[0].1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_list_each_file_once_and_only_published_ones() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let dest = server.destination("site");
    let scratch = tempfile::tempdir().unwrap();
    let manifest = server.prefix_dir("site").join(MANIFEST);

    let unpublished = dest
        .record(&[(rel("raw/not-yet.bin"), Digest([1; 32]))])
        .await;
    match unpublished {
        Err(e @ TransferError::Invalid { .. }) => {
            assert!(e.to_string().contains("after its put"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!manifest.exists(), "a refused record wrote the manifest");

    let a = put(&dest, scratch.path(), "raw/a.bin", 1).await;
    let b = put(&dest, scratch.path(), "raw/b.bin", 2).await;
    dest.record(std::slice::from_ref(&a)).await.unwrap();
    dest.record_missing(&[a.clone(), b.clone()]).await.unwrap();
    dest.record_missing(&[a.clone(), b.clone()]).await.unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(text, format!("{}  raw/a.bin\n{}  raw/b.bin\n", a.1, b.1));

    // Torn by another tool: cut by repair, and a whole manifest is left alone.
    std::fs::write(&manifest, format!("{text}0123abc")).unwrap();
    assert!(dest.repair_manifest().await.unwrap());
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), text);
    assert!(!dest.repair_manifest().await.unwrap());
}

/// Two destination values recording at once (as the agent's parallel steps do) lose no line.
/// Each rewrite is conditional on the ETag read and checked afterwards; within one process
/// they also take turns, which is what makes this hold on s3s-fs, whose conditional PUT is not
/// atomic (see the crate's report).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_lose_nothing() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let (one, two) = (server.destination("site"), server.destination("site"));
    let scratch = tempfile::tempdir().unwrap();
    let mut entries = Vec::new();
    for i in 0..16 {
        entries.push(put(&one, scratch.path(), &format!("raw/{i}.bin"), i).await);
    }
    let record_all = |dest: S3Destination, mine: Vec<(RelPath, Digest)>| async move {
        for e in mine {
            dest.record(&[e]).await.unwrap();
        }
    };
    let (evens, odds): (Vec<_>, Vec<_>) = entries
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip =
        |v: Vec<(usize, (RelPath, Digest))>| v.into_iter().map(|(_, e)| e).collect::<Vec<_>>();
    tokio::join!(record_all(one, strip(evens)), record_all(two, strip(odds)));
    let text = std::fs::read_to_string(server.prefix_dir("site").join(MANIFEST)).unwrap();
    assert_eq!(text.lines().count(), entries.len(), "{text}");
    for (p, d) in &entries {
        assert!(text.contains(&format!("{d}  {p}\n")), "lost {p}");
    }
}

/// An upload abandoned mid-way (the agent was stopped) is kept for a day so a restart can
/// resume it, and aborted by clean-up after that: its parts and marker are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_temporaries_aborts_only_stale_uploads() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let mut config = server.config("objects", "site");
    config.parallel = 1;
    let dest = S3Destination::with_part_size(config, MIN_PART_SIZE).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("big.bin");
    write_random(&src, 20 * MIN_PART_SIZE as usize, 5);
    let marker = server
        .prefix_dir("site")
        .join(".uploads.scopeflow-tmp-")
        .join("raw")
        .join("big.bin");
    let task = tokio::spawn({
        let (dest, src) = (dest.clone(), src.clone());
        async move { dest.put(&src, &rel("raw/big.bin")).await }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&marker).is_ok_and(|t| t.contains("\npart ")) {
        assert!(Instant::now() < deadline, "no part was recorded");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    task.abort();
    let _ = task.await;
    let parts_on_server = || {
        std::fs::read_dir(&server.root)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".upload_id-")
            })
            .count()
    };
    assert!(parts_on_server() > 0);

    assert_eq!(
        dest.clean_temporaries().await.unwrap(),
        0,
        "a fresh upload was abandoned"
    );
    assert!(marker.exists());
    assert_eq!(
        dest.clean_temporaries_older_than(Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert!(!marker.exists());
    assert_eq!(parts_on_server(), 0, "the upload's parts were not aborted");
    assert!(
        !server
            .prefix_dir("site")
            .join("raw")
            .join("big.bin")
            .exists()
    );
}
