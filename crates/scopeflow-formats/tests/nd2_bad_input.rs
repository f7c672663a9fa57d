//! Damaged ND2 files: truncations, offsets past the end, chunks that are not what the map says,
//! unsupported compression, broken zlib and metadata, and random byte mutations. Every case
//! must end in an error naming the file (or a clean read), never a panic, and quickly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use scopeflow_formats::open_series;

mod nd2_common;
use nd2_common::common::read_everything;
use nd2_common::{real, variant};

fn sample() -> Vec<u8> {
    std::fs::read(real("arcadia_example-cerevisiae.nd2")).unwrap()
}

/// The cerevisiae file with XML-variant metadata and zlib frames, made once.
fn xml_sample() -> &'static [u8] {
    static SAMPLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = real("arcadia_example-cerevisiae.nd2");
        std::fs::read(variant(&src, "xml,zlib", dir.path())).unwrap()
    })
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn expect_error(path: &Path, words: &[&str]) {
    let start = Instant::now();
    let err = read_everything(path, 50).expect_err("damaged file must be refused");
    assert!(
        err.contains(&path.display().to_string()),
        "does not name the file: {err}"
    );
    for w in words {
        assert!(err.contains(w), "expected {w:?} in: {err}");
    }
    assert!(start.elapsed() < Duration::from_secs(5), "slow: {err}");
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .rposition(|w| w == needle)
        .expect("pattern")
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn truncated_copies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample();
    let n = bytes.len();
    let mut cuts: Vec<usize> = vec![0, 1, 15, 16, 100, 112, 4096, 4100, n - 41, n - 40, n - 1];
    cuts.extend((1..40).map(|i| i * n / 40));
    for cut in cuts {
        let p = write(dir.path(), &format!("cut{cut}.nd2"), &bytes[..cut]);
        let start = Instant::now();
        let err = read_everything(&p, 50).expect_err("truncated").to_string();
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
    // Cut in the middle but with the locator kept: the chunk map lies past the end.
    for cut in [200_000, 400_000, n - 5000] {
        let mut b = bytes[..cut].to_vec();
        b.extend_from_slice(&bytes[n - 40..]);
        let p = write(dir.path(), &format!("hole{cut}.nd2"), &b);
        expect_error(&p, &["past the end"]);
    }
}

#[test]
fn chunk_offsets_past_the_end_or_at_the_wrong_place_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample();
    let entry = find(&bytes, b"ImageDataSeq|0!") + 15;
    let mut b = bytes.clone();
    b[entry..entry + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    expect_error(&write(dir.path(), "past.nd2", &b), &["past the end"]);
    // The frame entry points at the header chunk: a chunk, but not image data.
    let mut b = bytes.clone();
    b[entry..entry + 8].copy_from_slice(&0u64.to_le_bytes());
    expect_error(&write(dir.path(), "wrong.nd2", &b), &["no image data"]);
    // ... or into the middle of nowhere.
    let mut b = bytes.clone();
    b[entry..entry + 8].copy_from_slice(&50u64.to_le_bytes());
    expect_error(&write(dir.path(), "nowhere.nd2", &b), &["bad magic"]);
    // The locator points at a chunk that is not the map.
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 8..].copy_from_slice(&0u64.to_le_bytes());
    expect_error(&write(dir.path(), "locator.nd2", &b), &["no chunk map"]);
}

#[test]
fn unsupported_compression_and_versions_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample();
    let mut b = bytes.clone();
    let at = find(&b, &utf16("eCompression\0")) + 26;
    b[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    expect_error(
        &write(dir.path(), "lossy.nd2", &b),
        &["unsupported", "lossy"],
    );
    let mut b = bytes.clone();
    b[48..54].copy_from_slice(b"Ver1.0");
    expect_error(&write(dir.path(), "v1.nd2", &b), &["unsupported", "1.0"]);
    // A version 2 file names its metadata chunks without "LV": these are missing.
    let mut b = bytes.clone();
    b[48..54].copy_from_slice(b"Ver2.0");
    expect_error(&write(dir.path(), "v2.nd2", &b), &["no image attributes"]);
    let mut b = bytes.clone();
    let at = find(&b, &utf16("uiBpcInMemory\0")) + 28;
    b[at..at + 4].copy_from_slice(&12u32.to_le_bytes());
    expect_error(&write(dir.path(), "bpc.nd2", &b), &["12 bits"]);
    // A frame larger than the file could hold: refused before any buffer is sized from it.
    let mut b = bytes.clone();
    let at = find(&b, &utf16("uiWidthBytes\0")) + 26;
    b[at..at + 4].copy_from_slice(&4_000_000_000u32.to_le_bytes());
    expect_error(&write(dir.path(), "huge.nd2", &b), &["more than"]);
    expect_error(dir.path(), &["folder"]);
}

#[test]
fn broken_metadata_and_zlib_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample();
    // An unknown item type at the start of the attributes chunk.
    let mut b = bytes.clone();
    let at = find(&b, &utf16("SLxImageAttributes\0")) - 2;
    b[at] = 42;
    expect_error(
        &write(dir.path(), "item.nd2", &b),
        &["invalid metadata", "type 42"],
    );
    // A level whose length runs past its chunk.
    let mut b = bytes.clone();
    let at = find(&b, &utf16("SLxImageAttributes\0")) + 38 + 4;
    b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_error(&write(dir.path(), "level.nd2", &b), &["invalid metadata"]);
    // A zlib frame whose stream header is destroyed.
    let z = variant(&real("arcadia_example-cerevisiae.nd2"), "zlib", dir.path());
    let mut b = std::fs::read(&z).unwrap();
    let entry = find(&b, b"ImageDataSeq|0!") + 15;
    let off = u64::from_le_bytes(b[entry..entry + 8].try_into().unwrap()) as usize;
    let name_len = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
    let stream = off + 16 + name_len + 8;
    b[stream..stream + 2].copy_from_slice(&[0, 0]);
    expect_error(&write(dir.path(), "zlib.nd2", &b), &["frame 0", "zlib"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Mutations aimed at the metadata (first 100 kB) and the chunk map (last 5 kB).
    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<bool>(), 0usize..100_000, any::<u8>()), 1..12),
        cut in proptest::option::of(0usize..5000),
    ) {
        let mut b = sample();
        let n = b.len();
        for (tail, at, value) in edits {
            let i = if tail { n - 1 - at % 5000 } else { at };
            b[i] = value;
        }
        if let Some(c) = cut {
            b.truncate(n - c);
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "m.nd2", &b);
        if let Err(e) = read_everything(&p, 50) {
            prop_assert!(e.contains(&p.display().to_string()), "{}", e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same on XML-variant metadata and zlib frames (metadata first, frames at the end).
    #[test]
    fn mutated_xml_and_zlib_files_never_panic(
        edits in proptest::collection::vec((0usize..1_000_000, any::<u8>()), 1..12),
        cut in proptest::option::of(0usize..5000),
    ) {
        let mut b = xml_sample().to_vec();
        let n = b.len();
        for (at, value) in edits {
            b[at % n] = value;
        }
        if let Some(c) = cut {
            b.truncate(n - c.min(n));
        }
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "x.nd2", &b);
        if let Err(e) = read_everything(&p, 50) {
            prop_assert!(e.contains(&p.display().to_string()), "{}", e);
        }
    }
}

/// A plane reads its own frame chunk only: a damaged frame spoils that plane and no other.
#[test]
fn a_damaged_frame_spoils_only_its_own_plane() {
    let dir = tempfile::tempdir().unwrap();
    let original = real("arcadia_example-zstack.nd2");
    let z = variant(&original, "zlib", dir.path());
    for (name, src) in [("raw", original), ("zlib", z)] {
        let mut b = std::fs::read(&src).unwrap();
        let entry = find(&b, b"ImageDataSeq|3!") + 15;
        let off = u64::from_le_bytes(b[entry..entry + 8].try_into().unwrap()) as usize;
        b[off..off + 4].copy_from_slice(b"JUNK");
        let p = write(dir.path(), &format!("{name}.nd2"), &b);
        let (good, bad) = (open_series(&src, 0).unwrap(), open_series(&p, 0).unwrap());
        for plane in 0..11 {
            if plane == 3 {
                let mut buf = vec![0u8; 128 * 128 * 2];
                let err = bad
                    .read_rows(&[3], 0, 128, &mut buf)
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("bad magic") && err.contains(&p.display().to_string()),
                    "{err}"
                );
            } else {
                assert_eq!(
                    nd2_common::read_plane(bad.as_ref(), &[plane]),
                    nd2_common::read_plane(good.as_ref(), &[plane]),
                    "{name} plane {plane}"
                );
            }
        }
    }
}
