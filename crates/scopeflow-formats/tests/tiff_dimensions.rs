//! A TIFF whose ImageWidth or ImageLength disagrees with the bytes it stores fails at open,
//! before any pixel buffer is sized from it (issue 20: 2^32 − 1 wide aborted the process).

/// A little-endian 16×16 uint8 TIFF, one strip, with the given width, length and compression.
fn tiff(width: u32, length: u32, compression: u16, strip: &[u8]) -> Vec<u8> {
    let entries: [(u16, u16, u32); 8] = [
        (256, 4, width),
        (257, 4, length),
        (258, 3, 8),
        (259, 3, u32::from(compression)),
        (262, 3, 1),
        (273, 4, 0), // strip offset, patched below
        (278, 4, length),
        (279, 4, strip.len() as u32),
    ];
    let ifd_at = 8u32;
    let data_at = ifd_at + 2 + 12 * entries.len() as u32 + 4;
    let mut out = b"II*\0".to_vec();
    out.extend(ifd_at.to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 273 { data_at } else { value };
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        if kind == 3 {
            out.extend((value as u16).to_le_bytes());
            out.extend([0, 0]);
        } else {
            out.extend(value.to_le_bytes());
        }
    }
    out.extend(0u32.to_le_bytes());
    out.extend(strip);
    out
}

fn open(bytes: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutant.tif");
    std::fs::write(&path, bytes).unwrap();
    match scopeflow_formats::open(&path) {
        Ok(_) => Ok(()),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("mutant.tif"), "{msg}");
            Err(msg)
        }
    }
}

#[test]
fn a_consistent_file_opens() {
    open(&tiff(16, 16, 1, &[7; 256])).unwrap();
}

#[test]
fn huge_widths_and_lengths_fail_at_open() {
    for side in [1 << 20, 1 << 24, 1 << 31, u32::MAX] {
        let wide = open(&tiff(side, 16, 1, &[7; 256])).expect_err("wide");
        assert!(
            wide.contains("ImageWidth") || wide.contains("pixels"),
            "{wide}"
        );
        open(&tiff(16, side, 1, &[7; 256])).expect_err("long");
    }
}

#[test]
fn a_compressed_strip_cannot_claim_more_than_it_could_expand_to() {
    // 300 bytes of PackBits for a 2^24-wide strip of 16 rows: 268 MB of pixels.
    let err = open(&tiff(1 << 22, 16, 32773, &[0; 300])).expect_err("packbits");
    assert!(err.contains("compressed"), "{err}");
}
