//! Verification with and without reading the objects back.

mod support;

use scopeflow_s3::S3Destination;
use scopeflow_testkit::{S3Server, write_random};
use scopeflow_transfer::conformance::Backdoor;
use scopeflow_transfer::{Destination, RelPath, TransferError, sha256_file};
use support::S3Test;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn assert_damaged<T: std::fmt::Debug>(r: Result<T, TransferError>, names: &str) {
    match r {
        Err(
            e @ TransferError::Mismatch {
                published: true, ..
            },
        ) => {
            assert!(e.to_string().contains(names), "{e} does not name {names}");
            assert!(!e.is_transient());
        }
        other => panic!("expected a Mismatch naming {names}, got {other:?}"),
    }
}

/// An object changed on the server after the transfer (bit rot, a bad disk) fails `verify`,
/// naming the file, while its size and stored checksum still look right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_after_transfer_is_a_mismatch() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let dest = server.destination("site");
    let backdoor = server.backdoor("site");
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("x.ome.zarr");
    for i in 0..20 {
        write_random(&dir.join("0").join(i.to_string()), 3000, i);
    }
    let target = rel("ome-zarr/x.ome.zarr");
    let receipt = dest.put(&dir, &target).await.unwrap();
    dest.verify(&target, &receipt.files).await.unwrap();
    backdoor
        .flip_byte(&rel("ome-zarr/x.ome.zarr/0/7"), 1500)
        .await
        .unwrap();
    assert_damaged(dest.verify(&target, &receipt.files).await, "0/7");
    // A second put of the same folder does not paper over the damage either.
    assert_damaged(dest.put(&dir, &target).await, "0/7");
}

/// `read_back: false` checks what the store reports (presence, size, the sha256 stored with
/// the object, which the store checked on upload) and downloads nothing: a truncated or
/// missing object is caught, a flipped byte behind the store's back is not. That is the
/// trade-off the option documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_read_back_verify_trusts_size_and_stored_checksum() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let mut config = server.config("objects", "site");
    config.settings.read_back = false;
    let dest = S3Destination::new(config).unwrap();
    let backdoor = server.backdoor("site");
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("a.bin");
    write_random(&src, 50_000, 3);
    let (digest, size) = sha256_file(&src).await.unwrap();
    let a = rel("raw/a.bin");

    let receipt = dest.put(&src, &a).await.unwrap();
    assert_eq!(receipt.files, vec![(a.clone(), digest, size)]);
    dest.verify(&a, &receipt.files).await.unwrap();
    // Idempotent without reading back too.
    assert_eq!(dest.put(&src, &a).await.unwrap().files, receipt.files);

    backdoor.flip_byte(&a, 10).await.unwrap();
    dest.verify(&a, &receipt.files)
        .await
        .expect("read_back: false cannot see a flipped byte");
    let reading = server.destination("site");
    assert_damaged(reading.verify(&a, &receipt.files).await, "raw/a.bin");

    backdoor.append_raw(&a, b"tail").await.unwrap();
    assert_damaged(dest.verify(&a, &receipt.files).await, "bytes stored");
    let never = rel("raw/never.bin");
    assert_damaged(
        dest.verify(&never, &[(never.clone(), digest, size)]).await,
        "missing",
    );
    // Another checksum than the stored one is caught from the metadata alone.
    let mut wrong = receipt.files.clone();
    wrong[0].1 = scopeflow_transfer::Digest([0; 32]);
    wrong[0].2 = size + 4;
    assert_damaged(dest.verify(&a, &wrong).await, "stored checksum");
}
