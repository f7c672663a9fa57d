//! Sending a damaged copy again: the damaged one is set aside (kept, renamed), the new one is
//! published under the original name and verifies.

use super::put_checks::{source_file, source_tree};
use super::{Harness, expect_ok, rel};
use crate::TransferError;

/// A copy damaged behind the destination's back fails `verify`, then `put` refuses to overwrite
/// it; after `set_aside` it is still there under its new name, and `put` sends the copy again,
/// which verifies. Checked for a file and for a folder.
pub async fn set_aside_then_send_again(h: &Harness<'_>) {
    let (src, _, n) = source_file(h, "aside.bin", 70_000, 21).await;
    let file = rel("set_aside_then_send_again/raw/a.bin");
    let receipt = expect_ok(h, "put", h.dest.put(&src, &file).await);
    h.backdoor
        .flip_byte(&file, n / 3)
        .await
        .expect("flip a byte");
    assert!(
        h.dest.verify(&file, &receipt.files).await.is_err(),
        "destination {}: verify accepted a damaged copy",
        h.who()
    );
    // Refused either way: as other content (`Conflict`), or, where the store's own record of
    // the content still matches, as a stored copy that reads back wrong.
    match h.dest.put(&src, &file).await {
        Err(
            TransferError::Conflict { .. }
            | TransferError::Mismatch {
                published: true, ..
            },
        ) => {}
        other => panic!(
            "destination {}: put over a damaged copy must be refused (Conflict, or Mismatch \
             of the published copy), got {other:?}",
            h.who()
        ),
    }
    let aside = expect_ok(h, "set_aside", h.dest.set_aside(&file).await);
    assert!(
        aside.as_str().starts_with(file.as_str()) && aside != file,
        "destination {}: set aside as {aside}",
        h.who()
    );
    let kept = h.backdoor.peek(&aside).await.expect("peek");
    assert_eq!(
        kept.map(|(_, size)| size),
        Some(n),
        "destination {}: the damaged copy must be kept, whole, under its new name",
        h.who()
    );
    let again = expect_ok(h, "put after set_aside", h.dest.put(&src, &file).await);
    assert_eq!(again.files, receipt.files);
    expect_ok(h, "verify", h.dest.verify(&file, &again.files).await);

    let dir_rel = rel("set_aside_then_send_again/ome-zarr/a.ome.zarr");
    let (dir, _) = source_tree(h, "aside.ome.zarr", 5, &dir_rel).await;
    let receipt = expect_ok(h, "folder put", h.dest.put(&dir, &dir_rel).await);
    let victim = receipt.files.last().expect("files").0.clone();
    h.backdoor.flip_byte(&victim, 0).await.expect("flip a byte");
    expect_ok(h, "set_aside folder", h.dest.set_aside(&dir_rel).await);
    let again = expect_ok(h, "folder put again", h.dest.put(&dir, &dir_rel).await);
    assert_eq!(again.files, receipt.files);
    expect_ok(
        h,
        "verify folder",
        h.dest.verify(&dir_rel, &again.files).await,
    );
}
