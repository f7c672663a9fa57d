//! MetaMorph UIC tags: the real CellProfiler file, a synthetic stack, and corrupted bytes.

mod common;
use common::real;
use std::fs::File;
use std::io;

use scopeflow_formats::metamorph::{
    parse_uic1, read_ifd_entries, read_stk_metadata, read_uic1_values,
};
use scopeflow_formats::units::ngff_unit;
use serde_json::json;
use tiff::tags::Tag;

const SAMPLE: &str = "cellprofiler_MetamorphImage.tif";

/// A `read_at` over bytes in memory that, like a file, returns fewer bytes at the end.
fn reader(bytes: &[u8]) -> impl FnMut(u64, usize) -> io::Result<Vec<u8>> + '_ {
    move |offset, len| {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let end = start.saturating_add(len).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }
}

#[test]
fn real_file_via_ifd() {
    let bytes = std::fs::read(real(SAMPLE)).unwrap();
    let mut dec = tiff::decoder::Decoder::new(File::open(real(SAMPLE)).unwrap()).unwrap();
    let ifd = dec.ifd_pointer().unwrap().0;
    assert_eq!(ifd, 726_106);

    let info = read_stk_metadata(&mut reader(&bytes), ifd, false, false).unwrap();
    assert_eq!(info.x_calibration, Some(0.645));
    assert_eq!(info.y_calibration, Some(0.645));
    assert_eq!(info.calibration_units.as_deref(), Some("um"));
    assert_eq!(
        ngff_unit(info.calibration_units.as_deref().unwrap()),
        Some("micrometer")
    );
    assert_eq!(info.name.as_deref(), Some("Cy5"));

    // The rest matches tifffile's stk_metadata for this file.
    let o = &info.other;
    assert_eq!(o["NumberPlanes"], 1);
    assert_eq!(o["SpatialCalibration"], 1);
    assert_eq!(o["MinScale"], 186);
    assert_eq!(o["wavelength"], 675);
    assert_eq!(o["Zoom"], 35);
    assert_eq!(o["CreateTime"], "2010-03-05T12:08:52.203");
    assert_eq!(o["LastSavedTime"], "2010-03-05T12:08:52.335");
    assert_eq!(o["_grayFit"], 4);
    assert_eq!(o["grayX"], 4_294_967_295.0);
    assert_eq!(o["StagePosition"], json!([[115_815.18, 242_997.32]]));
    assert_eq!(o["CameraChipOffset"], json!([[0.0, 0.0]]));
    assert_eq!(o["StageLabel"], json!(["P24 : Site 9"]));
    assert_eq!(o["AutoScaleLoInfo"], 0.1);
    assert_eq!(o["AbsoluteZ"], json!([11_702.6]));
    assert_eq!(o["AbsoluteZValid"], 0);
    assert_eq!(o["Gamma"], 1);
    assert_eq!(o["CameraBin"], json!([2, 2]));
    assert_eq!(o["NewLUT"], 8);
    assert_eq!(o["_TagId67"], 725_716);
    let props = o["PlaneProperty"].as_array().unwrap();
    assert_eq!(props.len(), 10);
    assert_eq!(
        props[0],
        json!({"name": "_IllumSetting_", "flags": 2, "value": "Cy5"})
    );
    assert_eq!(
        props[1],
        json!({"name": "_MagNA_", "flags": 2, "value": 0.45})
    );
    assert_eq!(
        props[3],
        json!({"name": "_MagSetting_", "flags": 2, "value": "20x Plan Fluor ELWD"})
    );
    assert_eq!(
        props[4],
        json!({"name": "Camera Bit Depth", "flags": 0, "value": 12.0})
    );
}

#[test]
fn real_file_has_only_uic1() {
    let bytes = std::fs::read(real(SAMPLE)).unwrap();
    let entries = read_ifd_entries(&mut reader(&bytes), 726_106, false, false).unwrap();
    let uic: Vec<_> = entries
        .iter()
        .filter(|e| e.tag >= 33_628 && e.tag <= 33_631)
        .collect();
    assert_eq!(uic.len(), 1, "no UIC2/3/4 in this file");
    assert_eq!(
        (uic[0].field_type, uic[0].count, uic[0].value_offset),
        (4, 46, 725_738)
    );
    let desc = entries.iter().find(|e| e.tag == 270).unwrap();
    assert_eq!(desc.value_offset, 723_848);
    let width = entries.iter().find(|e| e.tag == 256).unwrap();
    assert_eq!(
        width.value_offset,
        726_106 + 2 + 12 + 8,
        "inline values point into the IFD"
    );
}

#[test]
fn tiff_crate_returns_half_the_uic1_pairs() {
    let bytes = std::fs::read(real(SAMPLE)).unwrap();
    let mut dec = tiff::decoder::Decoder::new(File::open(real(SAMPLE)).unwrap()).unwrap();
    let partial = dec.get_tag_u32_vec(Tag::Unknown(33628)).unwrap();
    assert_eq!(
        partial.len(),
        46,
        "TIFF count is the number of pairs, values are 2 × count"
    );
    let full = read_uic1_values(&mut reader(&bytes), 726_106, false, false).unwrap();
    assert_eq!(full.len(), 92);
    assert_eq!(&full[..46], &partial[..]);

    // The first 23 pairs still hold calibration and name.
    let info = parse_uic1(&partial, &mut reader(&bytes), false);
    assert_eq!(info.x_calibration, Some(0.645));
    assert_eq!(info.name.as_deref(), Some("Cy5"));
    assert!(!info.other.contains_key("PlaneProperty"));

    let info = parse_uic1(&full, &mut reader(&bytes), false);
    assert_eq!(info.y_calibration, Some(0.645));
    assert_eq!(info.calibration_units.as_deref(), Some("um"));
    assert_eq!(info.other["PlaneProperty"].as_array().unwrap().len(), 10);
}

/// Little-endian classic TIFF holding only an IFD with UIC1–UIC4 for a 2-plane stack.
fn synthetic_stack() -> (Vec<u8>, u64) {
    fn u16s(v: u16) -> [u8; 2] {
        v.to_le_bytes()
    }
    fn u32s(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }
    fn pascal(s: &str) -> Vec<u8> {
        let mut out = u32s(s.len() as u32 + 1).to_vec();
        out.extend(s.as_bytes());
        out.push(0);
        out
    }
    let mut data = Vec::new();
    let base = 8 + 2 + 4 * 12 + 4; // header, IFD count, 4 entries, next-IFD
    let at = |data: &Vec<u8>| (base + data.len()) as u32;

    let xcal = at(&data);
    data.extend(u32s(13));
    data.extend(u32s(100));
    let units = at(&data);
    data.extend(pascal("nm"));
    let name = at(&data);
    data.extend(pascal("uic1 name"));
    let label = at(&data);
    data.extend(pascal("ignored for stacks"));

    let uic1 = at(&data);
    for (id, v) in [
        (4, xcal),
        (5, xcal),
        (6, units),
        (7, name),
        (37, label),
        (27, 500),
    ] {
        data.extend(u32s(id));
        data.extend(u32s(v));
    }
    let uic2 = at(&data);
    for _ in 0..2 {
        for v in [1, 2, 2_455_260, 43_732_203, 2_455_260, 0] {
            data.extend(u32s(v));
        }
    }
    let uic3 = at(&data);
    for v in [488, 1, 1122, 2] {
        data.extend(u32s(v));
    }
    let uic4 = at(&data);
    data.extend(u16s(28)); // StagePosition: per plane x, y fractions
    for v in [1, 1, 2, 1, 3, 1, 9, 2] {
        data.extend(u32s(v));
    }
    data.extend(u16s(37)); // StageLabel: one string per plane
    data.extend(pascal("A"));
    data.extend(pascal("B"));
    data.extend(u16s(7)); // Name, overriding UIC1's
    data.extend(pascal("uic4 name"));
    data.extend(u16s(99)); // unknown id: one u32
    data.extend(u32s(7));
    data.extend(u16s(0));

    let mut file = b"II*\0".to_vec();
    file.extend(u32s(8));
    file.extend(u16s(4));
    for (tag, typ, count, off) in [
        (33628u16, 4u16, 6u32, uic1),
        (33629, 5, 2, uic2),
        (33630, 5, 2, uic3),
        (33631, 4, 2, uic4),
    ] {
        file.extend(u16s(tag));
        file.extend(u16s(typ));
        file.extend(u32s(count));
        file.extend(u32s(off));
    }
    file.extend(u32s(0));
    assert_eq!(file.len(), base);
    file.extend(data);
    (file, 8)
}

#[test]
fn synthetic_stack_all_tags() {
    let (bytes, ifd) = synthetic_stack();
    let info = read_stk_metadata(&mut reader(&bytes), ifd, false, false).unwrap();
    assert_eq!(info.x_calibration, Some(0.13));
    assert_eq!(info.calibration_units.as_deref(), Some("nm"));
    assert_eq!(
        info.name.as_deref(),
        Some("uic4 name"),
        "UIC4 overrides UIC1"
    );
    let o = &info.other;
    assert_eq!(o["NumberPlanes"], 2);
    assert_eq!(o["wavelength"], 500);
    assert_eq!(
        o["StageLabel"],
        json!(["A", "B"]),
        "UIC1's per-plane label is skipped"
    );
    assert_eq!(o["StagePosition"], json!([[1.0, 2.0], [3.0, 4.5]]));
    assert_eq!(o["_TagId99"], 7);
    assert_eq!(o["Wavelengths"], json!([488.0, 561.0]));
    assert_eq!(o["ZDistance"], json!([0.5, 0.5]));
    assert_eq!(
        o["DatetimeCreated"],
        json!(["2010-03-05T12:08:52.203", "2010-03-05T12:08:52.203"])
    );
    assert_eq!(
        o["DatetimeModified"],
        json!(["2010-03-05T00:00:00.000", "2010-03-05T00:00:00.000"])
    );
}

#[test]
fn not_metamorph_and_unreadable() {
    let (bytes, _) = synthetic_stack();
    // An IFD without UIC1: rewrite its tag number.
    let mut no_uic1 = bytes.clone();
    no_uic1[10..12].copy_from_slice(&1u16.to_le_bytes());
    assert!(read_stk_metadata(&mut reader(&no_uic1), 8, false, false).is_none());
    // IFD offset beyond the end, and reads that fail.
    assert!(read_stk_metadata(&mut reader(&bytes), 1 << 40, false, false).is_none());
    let mut failing = |_: u64, _: usize| -> io::Result<Vec<u8>> { Err(io::Error::other("boom")) };
    assert!(read_stk_metadata(&mut failing, 8, false, false).is_none());
    let info = parse_uic1(&[4, 1000, 7, 2000, 6, 3], &mut failing, false);
    assert_eq!(info.x_calibration, None);
    assert_eq!(info.name, None);
    assert_eq!(
        info.calibration_units, None,
        "a value < 8 is not an offset: empty string"
    );
    assert!(parse_uic1(&[], &mut failing, false).other.is_empty());
    // Odd length and ids past the table.
    let info = parse_uic1(&[3, 1, 500, 9, 2], &mut failing, false);
    assert_eq!(info.other["SpatialCalibration"], 1);
    assert_eq!(info.other["_TagId500"], 9);
}

/// xorshift64*, so the corruption test needs no extra dependency and is reproducible.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn corrupted_bytes_never_panic() {
    let real_bytes = std::fs::read(real(SAMPLE)).unwrap();
    let (stack, _) = synthetic_stack();
    let mut state = 0x5eed_u64;
    for (bytes, ifd, meta_start) in [(real_bytes, 726_106u64, 725_146usize), (stack, 8, 8)] {
        for round in 0..300 {
            let mut b = bytes.clone();
            let flips = 1 + (next(&mut state) % 16) as usize;
            for _ in 0..flips {
                let i = meta_start + (next(&mut state) as usize) % (b.len() - meta_start);
                b[i] = next(&mut state) as u8;
            }
            if round % 3 == 0 {
                let keep = meta_start + (next(&mut state) as usize) % (b.len() - meta_start);
                b.truncate(keep);
            }
            let _ = read_stk_metadata(&mut reader(&b), ifd, false, false);
            let _ = read_stk_metadata(&mut reader(&b), ifd, true, round % 2 == 0);
            let pairs: Vec<u32> = (0..2 + next(&mut state) % 40)
                .map(|k| {
                    if k % 2 == 0 {
                        (next(&mut state) % 70) as u32
                    } else {
                        next(&mut state) as u32 % (b.len() as u32 + 64)
                    }
                })
                .collect();
            let _ = parse_uic1(&pairs, &mut reader(&b), false);
        }
    }
}
