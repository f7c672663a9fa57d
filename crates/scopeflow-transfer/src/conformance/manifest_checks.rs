use super::fixtures::{blocking, check_manifest, write_file, write_zarr_like};
use super::{Harness, expect_ok, rel};
use crate::{Digest, MANIFEST, RelPath};

/// Puts `name` (a file) and records it; returns its manifest entry.
async fn put_and_record(
    h: &Harness<'_>,
    name: &str,
    rel_path: &str,
    seed: u64,
) -> (RelPath, Digest) {
    let src = h.scratch.join(name);
    let p = src.clone();
    blocking(move || write_file(&p, 5000 + seed as usize, seed)).await;
    let rel = rel(rel_path);
    let receipt = expect_ok(h, "put", h.dest.put(&src, &rel).await);
    let entries: Vec<_> = receipt.files.into_iter().map(|(p, d, _)| (p, d)).collect();
    expect_ok(h, "record", h.dest.record(&entries).await);
    entries.into_iter().next().expect("one file")
}

async fn manifest_text(h: &Harness<'_>) -> String {
    let root = h
        .backdoor
        .local_root()
        .await
        .expect("local view of the root");
    blocking(move || std::fs::read_to_string(root.join(MANIFEST))).await
}

async fn assert_manifest_checks(h: &Harness<'_>) {
    let root = h
        .backdoor
        .local_root()
        .await
        .expect("local view of the root");
    let result = tokio::task::spawn_blocking(move || check_manifest(&root))
        .await
        .expect("manifest check panicked");
    if let Err(why) = result {
        panic!("destination {}: {why}", h.who());
    }
}

/// After puts and records of a file and a folder (and a record repeated, as a retried step
/// would), `sha256sum -c manifest-sha256.txt` passes in the root, every line in the format
/// `<hex>  <path from the root>`.
pub async fn manifest_passes_sha256sum(h: &Harness<'_>) {
    let file = put_and_record(
        h,
        "manifest.bin",
        "manifest_passes_sha256sum/raw/a b.bin",
        20,
    )
    .await;

    let rel_dir = rel("manifest_passes_sha256sum/ome-zarr/a.ome.zarr");
    let dir = h.scratch.join("manifest.ome.zarr");
    let d = dir.clone();
    blocking(move || write_zarr_like(&d, 21)).await;
    let receipt = expect_ok(h, "folder put", h.dest.put(&dir, &rel_dir).await);
    let entries: Vec<_> = receipt
        .files
        .iter()
        .map(|(p, d, _)| (p.clone(), *d))
        .collect();
    expect_ok(h, "record a folder", h.dest.record(&entries).await);
    expect_ok(
        h,
        "record again",
        h.dest.record(std::slice::from_ref(&file)).await,
    );

    let text = manifest_text(h).await;
    for (path, digest) in entries.iter().chain([&file]) {
        let line = format!("{digest}  {path}\n");
        assert!(
            text.contains(&line),
            "destination {}: the manifest lacks {line:?}",
            h.who()
        );
    }
    assert_manifest_checks(h).await;
}

/// A partial last line, as a crash in the middle of an append leaves it, is cut by the next
/// record, which then appends whole lines: the manifest checks again, and no line was lost.
pub async fn manifest_repairs_a_torn_line(h: &Harness<'_>) {
    let before = put_and_record(
        h,
        "torn-1.bin",
        "manifest_repairs_a_torn_line/raw/1.bin",
        30,
    )
    .await;
    let torn = "0123456789abcdef  manifest_repairs_a_torn_line/raw/tor";
    h.backdoor
        .append_raw(&rel(MANIFEST), torn.as_bytes())
        .await
        .expect("tear the manifest");
    let after = put_and_record(
        h,
        "torn-2.bin",
        "manifest_repairs_a_torn_line/raw/2.bin",
        31,
    )
    .await;

    let text = manifest_text(h).await;
    assert!(
        !text.contains(torn),
        "destination {}: the torn line is still there",
        h.who()
    );
    for (path, digest) in [&before, &after] {
        let line = format!("{digest}  {path}\n");
        assert!(
            text.contains(&line),
            "destination {}: the manifest lost {line:?}",
            h.who()
        );
    }
    assert_manifest_checks(h).await;
}

/// The index at the root (`ro-crate-metadata.json`) is the one file a destination replaces:
/// a second `publish_index` leaves exactly the new bytes, no temporary beside it, and the
/// manifest never lists it (so `sha256sum -c` keeps passing while it changes).
pub async fn index_is_replaced_whole(h: &Harness<'_>) {
    const INDEX: &str = "ro-crate-metadata.json";
    let first = br#"{"@graph": ["first"]}"#.to_vec();
    let second = format!("{{\"@graph\": [{}]}}", "\"second\",".repeat(20_000) + "0").into_bytes();
    expect_ok(
        h,
        "publish the index",
        h.dest.publish_index(INDEX, first).await,
    );
    expect_ok(
        h,
        "replace the index",
        h.dest.publish_index(INDEX, second.clone()).await,
    );
    let root = h
        .backdoor
        .local_root()
        .await
        .expect("local view of the root");
    let r = root.clone();
    let got = blocking(move || std::fs::read(r.join(INDEX))).await;
    assert!(
        got == second,
        "destination {}: the index holds {} bytes, not the {} last published",
        h.who(),
        got.len(),
        second.len()
    );
    let r = root.clone();
    let names: Vec<String> = blocking(move || {
        std::fs::read_dir(&r).map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
    })
    .await;
    let temps: Vec<&String> = names
        .iter()
        .filter(|n| n.contains(INDEX) && crate::remote::is_temporary_name(n))
        .collect();
    assert!(
        temps.is_empty(),
        "destination {}: the index's temporaries left at the root: {temps:?}",
        h.who()
    );
    let text = blocking(move || match std::fs::read_to_string(root.join(MANIFEST)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        other => other,
    })
    .await;
    assert!(
        !text.contains(INDEX),
        "destination {}: the manifest lists the index",
        h.who()
    );
}
