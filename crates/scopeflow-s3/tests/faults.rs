//! What happens when things go wrong: the server dies mid-transfer, refuses the credentials,
//! is down, or is full; and a stored object is damaged.

mod support;

use std::time::{Duration, Instant};

use scopeflow_s3::{MIN_PART_SIZE, S3Destination};
use scopeflow_testkit::{S3Server, files_under, write_random};
use scopeflow_transfer::conformance;
use scopeflow_transfer::{Destination, RelPath, TransferError, sha256_file};
use support::S3Test;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// Polls `ready` every millisecond (up to a minute); panics if it never holds.
async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn assert_transient_failure<T: std::fmt::Debug>(
    what: &str,
    r: Result<T, TransferError>,
) -> TransferError {
    match r {
        Err(e) => {
            assert!(
                e.is_transient(),
                "{what}: a dead server must be retried later, got {e:?}"
            );
            e
        }
        Ok(v) => panic!("{what}: succeeded although the server was killed: {v:?}"),
    }
}

/// A 32-part file: the server is killed once some parts are in, the put fails (transient),
/// and after a restart the put sends only the parts that were missing, then verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_resumes_after_the_server_dies() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("big.bin");
    let parts = 32u64;
    write_random(&src, (parts * MIN_PART_SIZE - 1000) as usize, 7);
    let (digest, size) = sha256_file(&src).await.unwrap();
    let mut config = server.config("objects", "site");
    config.parallel = 1;
    let dest = S3Destination::with_part_size(config.clone(), MIN_PART_SIZE).unwrap();
    let target = rel("raw/big.bin");
    let marker = server
        .prefix_dir("site")
        .join(".uploads.scopeflow-tmp-")
        .join("raw")
        .join("big.bin");
    let parts_in = |m: &std::path::Path| {
        std::fs::read_to_string(m)
            .map(|t| t.lines().filter(|l| l.starts_with("part ")).count())
            .unwrap_or(0)
    };

    let put = tokio::spawn({
        let (dest, src, target) = (dest.clone(), src.clone(), target.clone());
        async move { dest.put(&src, &target).await }
    });
    wait_until("two parts are recorded", || parts_in(&marker) >= 2).await;
    server.kill();
    assert_transient_failure("put during the outage", put.await.unwrap());
    let recorded = parts_in(&marker) as u64;
    assert!(
        recorded >= 2 && recorded < parts,
        "{recorded} parts recorded"
    );
    assert!(
        !server
            .prefix_dir("site")
            .join("raw")
            .join("big.bin")
            .exists(),
        "published before all parts were in"
    );

    server.run();
    let dest = S3Destination::with_part_size(config, MIN_PART_SIZE).unwrap();
    let receipt = dest.put(&src, &target).await.unwrap();
    assert_eq!(receipt.files, vec![(target.clone(), digest, size)]);
    let stats = dest.stats();
    assert_eq!(stats.parts_skipped, recorded, "{stats:?}");
    assert_eq!(stats.parts_uploaded, parts - recorded, "{stats:?}");
    assert_eq!(stats.objects_uploaded, 1);
    dest.verify(&target, &receipt.files).await.unwrap();
    assert!(!marker.exists(), "the marker outlived the upload");
}

/// A folder of 300 files: killed part-way (its first file, sent last, still absent), then
/// resumed: files already stored are checked and skipped, only the others are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_resumes_after_the_server_dies() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("x.ome.zarr");
    let total = 300;
    for i in 0..total {
        write_random(
            &dir.join("0").join("c").join(format!("{i:03}")),
            20_000 + i,
            i as u64,
        );
    }
    write_random(&dir.join("zarr.json"), 500, 9999);
    let total = total + 1;
    let mut config = server.config("objects", "site");
    config.parallel = 2;
    let dest = S3Destination::new(config.clone()).unwrap();
    let target = rel("ome-zarr/x.ome.zarr");
    let stored_dir = server
        .prefix_dir("site")
        .join("ome-zarr")
        .join("x.ome.zarr");

    let put = tokio::spawn({
        let (dest, dir, target) = (dest.clone(), dir.clone(), target.clone());
        async move { dest.put(&dir, &target).await }
    });
    wait_until("30 files are stored", || {
        files_under(&stored_dir).len() >= 30
    })
    .await;
    server.kill();
    assert_transient_failure("folder put during the outage", put.await.unwrap());
    let present = files_under(&stored_dir);
    assert!(present.len() < total, "all files made it before the kill");
    assert!(
        !present.contains(&"0/c/000".to_owned()),
        "the first file was sent before the others"
    );

    server.run();
    let dest = S3Destination::new(config).unwrap();
    let receipt = dest.put(&dir, &target).await.unwrap();
    assert_eq!(receipt.files.len(), total);
    let stats = dest.stats();
    assert_eq!(stats.objects_skipped, present.len() as u64, "{stats:?}");
    assert_eq!(
        stats.objects_uploaded,
        (total - present.len()) as u64,
        "{stats:?}"
    );
    dest.verify(&target, &receipt.files).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_a_clear_permanent_error() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("a.bin");
    write_random(&src, 1000, 1);
    for (access, secret) in [
        (server.access_key.clone(), "not-the-secret".to_owned()),
        ("AKUNKNOWN".to_owned(), server.secret_key.clone()),
    ] {
        let mut config = server.config("objects", "site");
        config.access_key = access;
        config.secret_key = secret.clone();
        let dest = S3Destination::new(config).unwrap();
        let err = dest.put(&src, &rel("raw/a.bin")).await.unwrap_err();
        assert!(matches!(err, TransferError::Invalid { .. }), "{err:?}");
        assert!(!err.is_transient());
        let msg = err.to_string();
        for needed in ["objects", &server.endpoint(), "imaging", "credentials"] {
            assert!(msg.contains(needed), "{msg:?} does not name {needed}");
        }
        assert!(
            !msg.contains(&secret) && !format!("{err:?}").contains(&secret),
            "the secret leaked: {msg}"
        );
    }
    assert!(files_under(&server.prefix_dir("")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_unreachable() {
    let Some(mut server) = S3Server::start() else {
        return;
    };
    server.kill();
    // Building needs no network: an agent starts while the store is down.
    let dest = server.destination("site");
    let scratch = tempfile::tempdir().unwrap();
    let endpoint = server.endpoint();
    let (src, a) =
        conformance::unreachable_is_transient(&dest, scratch.path(), &[endpoint.as_str()]).await;

    // Back up: the same destination value works.
    server.run();
    let receipt = dest.put(&src, &a).await.unwrap();
    dest.verify(&a, &receipt.files).await.unwrap();
}
