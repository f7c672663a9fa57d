//! Damaged CZI files: every failure is an error naming the file and the cause, never a panic,
//! and comes quickly.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;

mod common;
mod czi_common;
use czi_common::{DirEntry, directory_entries, make_samples, put_i32, read_everything};

/// The q (uncompressed) and r (zstd0, two scenes) samples, generated once per test binary.
fn samples() -> &'static [(String, Vec<u8>)] {
    static S: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        make_samples(dir.path(), "pqr");
        [
            "p_czi_zstd_czyx_u16.czi",
            "q_czi_raw_yx_u8.czi",
            "r_czi_2scenes_tyx_u16.czi",
        ]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(dir.path().join(n)).unwrap()))
        .collect()
    })
}

fn sample(name_start: &str) -> (String, Vec<u8>) {
    samples()
        .iter()
        .find(|(n, _)| n.starts_with(name_start))
        .cloned()
        .unwrap()
}

fn expect_err(path: &Path, words: &[&str]) -> String {
    let start = Instant::now();
    let err = read_everything(path)
        .expect_err("damaged file must be refused")
        .to_string();
    assert!(start.elapsed() < Duration::from_secs(5), "{err}: too slow");
    assert!(
        err.contains(&path.display().to_string()),
        "error does not name the file: {err}"
    );
    for w in words {
        assert!(err.contains(w), "error {err:?} does not say {w:?}");
    }
    err
}

#[test]
fn truncated_copies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in samples() {
        let path = dir.path().join(name);
        let mut cuts: Vec<usize> = (0..600).step_by(7).collect();
        cuts.extend((600..bytes.len()).step_by(bytes.len() / 97));
        // The directory segment is the last; bytes past what it uses are padding.
        let dir = czi_common::directory_position(bytes);
        let used = i64::from_le_bytes(bytes[dir + 24..dir + 32].try_into().unwrap()) as usize;
        let end = dir + 32 + used;
        cuts.extend(end - 40..end);
        for cut in cuts.into_iter().filter(|&c| c < end) {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            expect_err(&path, &[]);
        }
    }
}

#[test]
fn truncated_real_file_is_refused() {
    // Directory, metadata, then the one subblock; the attachments after it are not needed.
    let bytes = std::fs::read(common::real("aics_s_1_t_1_c_1_z_1.czi")).unwrap();
    let subblock_end = 688_608 + 32 + 309_888;
    assert_eq!(&bytes[688_608..688_622], b"ZISRAWSUBBLOCK");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aics.czi");
    for cut in (0..subblock_end).step_by(9_973) {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        expect_err(&path, &[]);
    }
}

#[test]
fn offsets_past_the_end_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (name, bytes) = sample("q_");
    let path = dir.path().join(&name);
    // The directory position of the file header.
    let mut b = bytes.clone();
    b[84..92].copy_from_slice(&(bytes.len() as i64 + 10).to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    expect_err(&path, &["past the end"]);
    // A subblock's file position.
    let mut b = bytes.clone();
    let e = &directory_entries(&bytes)[0];
    b[e.at + DirEntry::FILE_POSITION..e.at + DirEntry::FILE_POSITION + 8]
        .copy_from_slice(&(bytes.len() as i64 * 3).to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    expect_err(&path, &["past the end"]);
    // A directory entry count far beyond the segment.
    let mut b = bytes.clone();
    let dir_pos = czi_common::directory_position(&bytes);
    put_i32(&mut b, dir_pos + 32, 1 << 30);
    std::fs::write(&path, &b).unwrap();
    expect_err(&path, &["entries"]);
    // A subblock claiming far more pixels than it holds.
    let mut b = bytes.clone();
    for l in ['X', 'Y'] {
        put_i32(&mut b, e.dim_field(l, 8), 40_000);
        put_i32(&mut b, e.dim_field(l, 16), 40_000);
    }
    std::fs::write(&path, &b).unwrap();
    expect_err(&path, &["subblock"]);
}

#[test]
fn unsupported_compressions_and_pixel_types_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (code, word) in [
        (4, "JPEG-XR"),
        (1, "JPEG"),
        (2, "LZW"),
        (99, "compression code 99"),
    ] {
        let (name, mut b) = sample("q_");
        let path = dir.path().join(&name);
        for e in directory_entries(&b.clone()) {
            put_i32(&mut b, e.at + DirEntry::COMPRESSION, code);
        }
        std::fs::write(&path, &b).unwrap();
        let err = expect_err(&path, &[word, "unsupported", "compression"]);
        assert!(!err.contains("corrupt"), "{err}");
    }
    for (code, word) in [(9, "Bgra32"), (13, "Gray64"), (77, "unknown pixel type 77")] {
        let (name, mut b) = sample("q_");
        let path = dir.path().join(&name);
        for e in directory_entries(&b.clone()) {
            put_i32(&mut b, e.at + DirEntry::PIXEL_TYPE, code);
        }
        std::fs::write(&path, &b).unwrap();
        expect_err(&path, &[word, "unsupported"]);
    }
}

#[test]
fn damaged_zstd_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for prefix in ["p_", "r_"] {
        let (name, mut b) = sample(prefix);
        let path = dir.path().join(&name);
        // Break the zstd frame magic of the first subblock (after zstd1's 3-byte header).
        // Its data follows the 256-byte fixed part and the subblock's own metadata.
        let meta = i32::from_le_bytes(b[576..580].try_into().unwrap()) as usize;
        let data = 544 + 32 + 256 + meta;
        let magic = data + if prefix == "p_" { 3 } else { 0 };
        assert_eq!(b[magic..magic + 4], [0x28, 0xb5, 0x2f, 0xfd]);
        b[magic..magic + 4].fill(0);
        std::fs::write(&path, &b).unwrap();
        expect_err(&path, &["zstd"]);
    }
}

#[test]
fn not_a_czi_after_the_magic_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.czi");
    let mut b = b"ZISRAWFILE".to_vec();
    b.resize(100, 0);
    std::fs::write(&path, &b).unwrap();
    expect_err(&path, &["ZISRAWFILE"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random byte changes, mostly in the structures (header, directory, subblock headers),
    /// and a random truncation: whatever comes out, no panic and no hang.
    #[test]
    fn random_damage_never_panics(
        which in 0usize..3,
        edits in prop::collection::vec((any::<u16>(), any::<u8>(), any::<bool>()), 1..12),
        cut in prop::option::of(any::<u32>()),
    ) {
        let (name, mut b) = samples()[which].clone();
        let len = b.len();
        let dir_pos = czi_common::directory_position(&b);
        for (pos, val, in_directory) in edits {
            let at = if in_directory {
                dir_pos + usize::from(pos) % (len - dir_pos)
            } else {
                usize::from(pos) % len.min(1200)
            };
            b[at] = val;
        }
        if let Some(cut) = cut {
            b.truncate(cut as usize % len);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &b).unwrap();
        let start = Instant::now();
        if let Err(e) = read_everything(&path) {
            prop_assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        }
        prop_assert!(start.elapsed() < Duration::from_secs(10));
    }
}
