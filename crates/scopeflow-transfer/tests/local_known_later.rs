//! `put_known_later` at a local folder: the raw copy is made, flushed and read back under a
//! temporary name before its digest exists (the agent copies while it converts), and is
//! published only once the digest comes and the read-back matches it. No digest, or another
//! one: nothing published, no temporary left.

use std::fs;
use std::path::Path;

use scopeflow_transfer::{Destination, Digest, LocalDestination, RelPath, TransferError};
use sha2::{Digest as _, Sha256};
use tokio::sync::oneshot;

/// 3 MB of varied bytes: more than one copy block.
fn raw_bytes() -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn setup() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    Vec<u8>,
    LocalDestination,
) {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("cell.tif");
    let bytes = raw_bytes();
    fs::write(&raw, &bytes).unwrap();
    let dest = LocalDestination::new("nas", &tmp.path().join("nas"));
    (tmp, raw, bytes, dest)
}

#[tokio::test]
async fn copied_before_the_digest_published_after_it() {
    let (_tmp, raw, bytes, dest) = setup();
    assert!(dest.copies_before_known());
    let target = RelPath::new("raw/cell.tif").unwrap();
    let folder = dest.root().join("raw");
    let (tx, rx) = oneshot::channel();
    let d = dest.clone();
    let (r, t) = (raw.clone(), target.clone());
    let put = tokio::spawn(async move { d.put_known_later(&r, &t, rx).await });

    // The whole copy is made while the digest is still to come, under a temporary name.
    let mut waited = 0;
    let temp = loop {
        let found = names(&folder);
        if let Some(t) = found.first()
            && fs::metadata(folder.join(t)).unwrap().len() == bytes.len() as u64
        {
            break t.clone();
        }
        waited += 1;
        assert!(
            waited < 1000,
            "no complete temporary copy appeared: {found:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(temp.starts_with(".cell.tif."), "{temp}");
    assert!(
        !target.under(dest.root()).exists(),
        "published before the digest"
    );

    let digest = Digest(Sha256::digest(&bytes).into());
    tx.send((digest, bytes.len() as u64)).unwrap();
    let receipt = put.await.unwrap().unwrap();
    assert_eq!(
        receipt.files,
        vec![(target.clone(), digest, bytes.len() as u64)]
    );
    assert_eq!(fs::read(target.under(dest.root())).unwrap(), bytes);
    assert_eq!(
        names(&folder),
        vec!["cell.tif".to_string()],
        "temporary removed"
    );

    // Again at the same name: the copy there is the same, nothing is rewritten.
    let (tx, rx) = oneshot::channel();
    tx.send((digest, bytes.len() as u64)).unwrap();
    let again = dest.put_known_later(&raw, &target, rx).await.unwrap();
    assert_eq!(again.files, receipt.files);
}

#[tokio::test]
async fn another_digest_or_none_publishes_nothing() {
    let (_tmp, raw, bytes, dest) = setup();
    let folder = dest.root().join("raw");

    // The converter read other bytes than the copy did (the file changed in between).
    let target = RelPath::new("raw/changed.tif").unwrap();
    let mut other = bytes.clone();
    other[1_234_567] ^= 0xff;
    let (tx, rx) = oneshot::channel();
    tx.send((Digest(Sha256::digest(&other).into()), bytes.len() as u64))
        .unwrap();
    match dest.put_known_later(&raw, &target, rx).await {
        Err(TransferError::Mismatch {
            published: false,
            detail,
            ..
        }) => assert!(detail.contains("changed since"), "{detail}"),
        e => panic!("expected an unpublished mismatch, got {e:?}"),
    }
    assert_eq!(names(&folder), Vec::<String>::new());

    // The conversion failed: no digest ever comes.
    let target = RelPath::new("raw/failed.tif").unwrap();
    let (tx, rx) = oneshot::channel::<(Digest, u64)>();
    drop(tx);
    let err = dest.put_known_later(&raw, &target, rx).await.unwrap_err();
    assert!(err.to_string().contains("nothing published"), "{err}");
    assert_eq!(names(&folder), Vec::<String>::new(), "no temporary left");
}
