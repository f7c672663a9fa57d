//! Bad Imaris input: truncated copies at many offsets, a root-group address past the end of
//! the file, and a bounded property test of random byte overwrites and truncations. Each must
//! be an error naming the file (or, for bytes HDF5 never reads, a clean read), never a panic.
#![cfg(feature = "imaris")]

mod common;
#[path = "common/imaris.rs"]
mod fixtures;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;

fn assert_names_file(path: &Path, result: Result<(), String>) {
    if let Err(msg) = result {
        assert!(
            msg.contains(&path.display().to_string()),
            "error does not name the file: {msg}"
        );
    }
}

/// The small valid Imaris file of imaris_fixtures.py (C=2 Z=2 24x20 uint16, gzip chunks),
/// and the same with LZ4 chunks (decoded by Debian's hdf5-filter-plugin).
fn tiny() -> &'static [u8] {
    &samples().0
}

fn tiny_lz4() -> &'static [u8] {
    &samples().1
}

fn samples() -> &'static (Vec<u8>, Vec<u8>) {
    static TINY: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    TINY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        fixtures::extras(dir.path());
        let lz4 = dir.path().join("tiny_lz4.ims");
        fixtures::lz4_copy(&dir.path().join("tiny.ims"), &lz4);
        (
            std::fs::read(dir.path().join("tiny.ims")).unwrap(),
            std::fs::read(lz4).unwrap(),
        )
    })
}

#[test]
fn truncated_copies_are_errors_naming_the_file() {
    let bytes = tiny();
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.ims");
    std::fs::write(&whole, bytes).unwrap();
    common::read_everything(&whole, usize::MAX).expect("the untouched file reads");
    let mut cuts: Vec<usize> = (0..64).map(|i| bytes.len() * i / 64).collect();
    cuts.extend([1, 7, 8, 40, 95, 96, 200, 800, bytes.len() - 1]);
    for cut in cuts {
        let path = dir.path().join(format!("cut_{cut}.ims"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let start = Instant::now();
        let result = scopeflow_formats::open(&path).map(|_| ());
        let Err(e) = result else {
            panic!("{} bytes of {} opened", cut, bytes.len());
        };
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "cut {cut} took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn root_group_address_past_the_end_is_an_error() {
    let mut bytes = tiny().to_vec();
    // Superblock version 0 (h5py's default): the root group's object header address is the
    // second field of the root symbol table entry, at byte 64.
    assert_eq!(&bytes[..8], b"\x89HDF\r\n\x1a\n");
    assert_eq!(bytes[8], 0, "superblock version 0");
    assert_eq!(bytes[13], 8, "8-byte addresses");
    let far = (bytes.len() as u64 * 16).to_le_bytes();
    bytes[64..72].copy_from_slice(&far);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("far.ims");
    std::fs::write(&path, &bytes).unwrap();
    let Err(e) = scopeflow_formats::open(&path) else {
        panic!("a root group past the end opened");
    };
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn mutated_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        lz4 in any::<bool>(),
    ) {
        let mut bytes = if lz4 { tiny_lz4() } else { tiny() }.to_vec();
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if let Some(cut) = cut {
            let n = cut.index(bytes.len());
            bytes.truncate(n);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mutated.ims");
        std::fs::write(&path, &bytes).unwrap();
        assert_names_file(&path, common::read_everything(&path, usize::MAX));
    }
}
