//! Damaged LIF files: truncated at many offsets, memory blocks or strides pointing past the
//! end, unreadable sample types, random mutations. Always an error naming the file and the
//! cause, never a panic, and quickly.

mod common;
mod lif_support;

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use scopeflow_formats::{FormatError, open_series};

use lif_support::{all_planes, made, sample_w};

/// Opens every series (and one past the end) and reads every plane of those that open.
/// Returns the errors; panics only if an error fails to name the file.
fn exercise(path: &Path) -> Vec<FormatError> {
    let mut errors = Vec::new();
    for series in 0..6 {
        match open_series(path, series) {
            Ok(src) => {
                // A series that opens must read: its block was checked against the file.
                let _ = all_planes(src.as_ref(), 5);
            }
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                errors.push(e);
            }
        }
    }
    errors
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Replaces the first occurrence of `from` by `to` (same length) in the UTF-16 XML header.
fn patch_xml(bytes: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let (f, t) = (utf16(from), utf16(to));
    let at = bytes
        .windows(f.len())
        .position(|w| w == f.as_slice())
        .unwrap_or_else(|| panic!("{from} not in the header"));
    bytes[at..at + t.len()].copy_from_slice(&t);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_copies_fail_cleanly_and_fast() {
    let dir = tempfile::tempdir().unwrap();
    for (src, count) in [
        (sample_w(), 2),
        (common::real("readlif_testdata_2channel_xz.lif"), 3),
    ] {
        let bytes = std::fs::read(&src).unwrap();
        let started = Instant::now();
        let mut cuts: Vec<usize> = (0..64).chain((64..bytes.len()).step_by(9973)).collect();
        cuts.extend([bytes.len() - 1, bytes.len() / 2, bytes.len() - 4096]);
        for cut in cuts {
            let p = write(dir.path(), "cut.lif", &bytes[..cut]);
            let errors = exercise(&p);
            assert!(
                errors.len() > 6 - count,
                "cut at {cut}: the last image is cut off"
            );
        }
        // The last image's pixels are cut off: that series names its memory block.
        let p = write(dir.path(), "cut.lif", &bytes[..bytes.len() - 1]);
        let err = open_series(&p, count - 1)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("memory block") && err.contains("file ends"),
            "{err}"
        );
        assert!(open_series(&p, 0).is_ok(), "the first image is intact");
        assert!(started.elapsed() < Duration::from_secs(60), "too slow");
    }
}

#[test]
fn stride_past_the_block_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample_w()).unwrap();
    // Series001 is 256 rows of 600 bytes: rows 900 bytes apart run past its block.
    patch_xml(&mut bytes, "BytesInc=\"600\"", "BytesInc=\"900\"");
    let p = write(dir.path(), "stride.lif", &bytes);
    let err = open_series(&p, 0).err().expect("refused").to_string();
    assert!(
        err.contains("corrupt") && err.contains("needs") && err.contains("Series001"),
        "{err}"
    );
    // The other image is untouched and still reads.
    assert!(open_series(&p, 1).is_ok());
}

#[test]
fn memory_block_past_the_end_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample_w()).unwrap();
    // The first image's block header: its u64 size follows "0x70, u32, 0x2A" after MemBlock_0.
    let id = utf16("MemBlock_1");
    // The last occurrence: the first one is in the XML header.
    let at = bytes
        .windows(id.len())
        .rposition(|w| w == id.as_slice())
        .unwrap();
    let size_at = at - 4 - 1 - 8;
    bytes[size_at..size_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let p = write(dir.path(), "block.lif", &bytes);
    let err = open_series(&p, 0).err().expect("refused").to_string();
    assert!(
        err.contains("MemBlock_1") && err.contains("file ends"),
        "{err}"
    );
}

#[test]
fn unreadable_sample_types_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(sample_w()).unwrap();
    let (from, to) = (
        "DataType=\"0\" ChannelTag=\"0\" Resolution=\"16\"",
        "DataType=\"1\" ChannelTag=\"0\" Resolution=\"16\"",
    );
    // One channel of Series001 as 16-bit floats: channels of different types.
    patch_xml(&mut bytes, from, to);
    let p = write(dir.path(), "mixed.lif", &bytes);
    let err = open_series(&p, 0).err().expect("refused");
    assert!(matches!(err, FormatError::Unsupported { .. }), "{err}");
    assert!(
        err.to_string().contains("mixed.lif") && err.to_string().contains("different"),
        "{err}"
    );
    // Both: float16, which has no dtype downstream. Listed, refused; the other image opens.
    patch_xml(&mut bytes, from, to);
    let p = write(dir.path(), "f16.lif", &bytes);
    let err = open_series(&p, 0).err().expect("refused").to_string();
    assert!(err.contains("f16.lif") && err.contains("float16"), "{err}");
    let other = open_series(&p, 1).unwrap();
    assert_eq!(other.meta().series[0].dtype, "float16");
}

#[test]
fn not_a_lif_and_broken_headers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample_w()).unwrap();
    // XML length far past the end of the file.
    let mut long = bytes.clone();
    long[9..13].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = write(dir.path(), "xmllen.lif", &long);
    let err = open_series(&p, 0).err().unwrap().to_string();
    assert!(err.contains("does not fit"), "{err}");
    // Malformed XML.
    let mut bad = bytes.clone();
    patch_xml(&mut bad, "<Children>", "<Chxldren>");
    let p = write(dir.path(), "xml.lif", &bad);
    let err = open_series(&p, 0).err().unwrap().to_string();
    assert!(err.contains("xml.lif") && err.contains("XML"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random bytes overwritten (half in the XML header and first block header) and a random
    /// truncation: whatever happens, no panic, and errors name the file.
    #[test]
    fn mutations_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((any::<bool>(), 0.0f64..1.0, any::<u8>()), 1..12),
        keep in 0.5f64..1.0,
    ) {
        let src = made().join(["mosaic.lif", "rgb.lif"][which]);
        let mut bytes = std::fs::read(src).unwrap();
        let header = bytes.len().min(4 + 4 + 1 + 4 + 2 * u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]) as usize + 64);
        let len = bytes.len();
        for (in_header, pos, value) in edits {
            let at = (pos * if in_header { header } else { len } as f64) as usize;
            let last = bytes.len() - 1;
            bytes[at.min(last)] = value;
        }
        bytes.truncate(((bytes.len() as f64) * keep) as usize);
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "mutant.lif", &bytes);
        exercise(&p);
    }
}
