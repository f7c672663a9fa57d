//! The LIF reader against the synthetic samples' truth and, pixel for pixel, against readlif
//! (run as an independent checker through `tests/fixtures/lif_reference.py`), on the synthetic
//! samples and the real LAS X files.

mod common;
mod lif_support;

use std::path::{Path, PathBuf};

use scopeflow_core::axes_string;
use scopeflow_formats::conformance::bands_concatenate_to_plane;
use scopeflow_formats::{ImageSource, open_series, plane_count, plane_index};
use serde_json::Value;

use lif_support::{Reference, all_planes, made, sample_w};

const REAL: [&str; 2] = [
    "readlif_LeicaLASX_wavelength-sweep_example.lif",
    "readlif_testdata_2channel_xz.lif",
];

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn phys_matches(ours: Option<f64>, want: Option<&Value>) -> bool {
    match (ours, want.and_then(Value::as_f64)) {
        (None, None) => true,
        (Some(a), Some(b)) => close(a, b),
        _ => false,
    }
}

/// Axes, shape, dtype, physical sizes and name of every series equal `want` (truth or readlif).
fn check_series_meta(path: &Path, want: &[Value]) {
    for (i, w) in want.iter().enumerate() {
        let src = open_series(path, i).unwrap_or_else(|e| panic!("series {i}: {e}"));
        let m = src.meta();
        let ctx = format!("{} series {i}", path.display());
        assert_eq!(m.format, "lif", "{ctx}");
        assert_eq!(axes_string(&m.axes), w["axes"].as_str().unwrap(), "{ctx}");
        let shape: Vec<usize> = w["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(m.shape, shape, "{ctx}");
        assert_eq!(m.dtype.name(), w["dtype"].as_str().unwrap(), "{ctx}");
        let ps = m.physical_sizes.unwrap_or_default();
        let wp = &w["physical_sizes"];
        assert!(phys_matches(ps.x, wp.get("x")), "{ctx}: x {ps:?} vs {wp}");
        assert!(phys_matches(ps.y, wp.get("y")), "{ctx}: y {ps:?} vs {wp}");
        assert!(phys_matches(ps.z, wp.get("z")), "{ctx}: z {ps:?} vs {wp}");
        if m.physical_sizes.is_some() {
            assert_eq!(m.physical_unit.as_deref(), Some("micrometer"), "{ctx}");
        }
        assert_eq!(m.channel_names, None, "{ctx}: LIF LUT names are colours");
        // The series list is the same whichever series is opened.
        assert_eq!(m.series.len(), want.len(), "{ctx}");
        for (s, ws) in m.series.iter().zip(want) {
            assert_eq!(s.name.as_deref(), ws["name"].as_str(), "{ctx}");
            assert_eq!(s.axes, ws["axes"].as_str().unwrap(), "{ctx}");
            assert_eq!(s.dtype, ws["dtype"].as_str().unwrap(), "{ctx}");
        }
    }
    let past = open_series(path, want.len())
        .err()
        .expect("series past the end");
    assert!(
        past.to_string()
            .contains(&format!("no series {}", want.len())),
        "{past}"
    );
}

/// Every plane of every series, read in bands of 7 rows, equals what readlif reads.
fn check_pixels_against_readlif(path: &Path, tag: &str) -> Reference {
    let reference = Reference::of(path, tag);
    check_series_meta(path, &reference.series);
    for i in 0..reference.series.len() {
        let src = open_series(path, i).unwrap();
        let ours = all_planes(src.as_ref(), 7);
        let theirs = reference.pixels(i);
        assert_eq!(ours.len(), theirs.len(), "{tag} series {i}: byte count");
        if ours != theirs {
            let first = ours.iter().zip(&theirs).position(|(a, b)| a != b).unwrap();
            panic!("{tag} series {i}: pixels differ from readlif from byte {first}");
        }
        bands_concatenate_to_plane(src.as_ref()).unwrap_or_else(|e| panic!("{tag} {i}: {e}"));
    }
    reference
}

#[test]
fn synthetic_w_matches_truth_and_readlif() {
    let path = sample_w();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(PathBuf::from(format!("{}.truth.json", path.display()))).unwrap(),
    )
    .unwrap();
    let series: Vec<Value> = truth["series"].as_array().unwrap().clone();
    check_series_meta(&path, &series);
    check_pixels_against_readlif(&path, "w");
}

/// The truth's per-channel QC figures, recomputed from our pixels: saturation, and the
/// background / signal split at the truth's Otsu threshold (counts, means, background spread).
#[test]
fn synthetic_w_channel_statistics_match_truth() {
    let path = sample_w();
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.truth.json", path.display())).unwrap(),
    )
    .unwrap();
    for (i, s) in truth["series"].as_array().unwrap().iter().enumerate() {
        let src = open_series(&path, i).unwrap();
        for (c, want) in s["channels"].as_array().unwrap().iter().enumerate() {
            let values = channel_values(src.as_ref(), c);
            let n = values.len() as f64;
            let max = match src.meta().dtype.size() {
                1 => 255.0,
                _ => 65535.0,
            };
            let sat = values.iter().filter(|&&v| v == max).count() as f64 / n;
            assert!(
                close(sat, want["saturation_fraction"].as_f64().unwrap()),
                "{i}/{c}"
            );
            let t = want["otsu_threshold"].as_f64().unwrap();
            let (bg, sig): (Vec<f64>, Vec<f64>) = values.iter().partition(|&&v| v <= t);
            assert_eq!(
                bg.len() as u64,
                want["n_background"].as_u64().unwrap(),
                "{i}/{c}"
            );
            assert_eq!(
                sig.len() as u64,
                want["n_signal"].as_u64().unwrap(),
                "{i}/{c}"
            );
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let (mb, ms) = (mean(&bg), mean(&sig));
            let sd = (bg.iter().map(|v| (v - mb).powi(2)).sum::<f64>() / bg.len() as f64).sqrt();
            assert!(
                close(mb, want["mean_background"].as_f64().unwrap()),
                "{i}/{c}"
            );
            assert!(close(ms, want["mean_signal"].as_f64().unwrap()), "{i}/{c}");
            assert!(
                close(sd, want["std_background"].as_f64().unwrap()),
                "{i}/{c}"
            );
        }
    }
}

/// Pixel values of channel `c` over every plane (the C axis, or the whole image without one).
fn channel_values(src: &dyn ImageSource, c: usize) -> Vec<f64> {
    let meta = src.meta();
    let c_pos = meta
        .plane_axes()
        .iter()
        .position(|&a| a == scopeflow_core::Axis::C);
    let row = meta.width() * meta.dtype.size();
    let mut out = Vec::new();
    for p in 0..plane_count(meta) {
        let idx = plane_index(meta, p);
        if c_pos.is_some_and(|k| idx[k] != c) {
            continue;
        }
        let mut buf = vec![0u8; meta.height() * row];
        src.read_rows(&idx, 0, meta.height(), &mut buf).unwrap();
        match meta.dtype.size() {
            1 => out.extend(buf.iter().map(|&v| f64::from(v))),
            _ => out.extend(
                buf.chunks_exact(2)
                    .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]]))),
            ),
        }
    }
    out
}

#[test]
fn real_files_match_readlif_plane_for_plane() {
    for name in REAL {
        let path = common::real(name);
        let reference = check_pixels_against_readlif(&path, name);
        assert_eq!(reference.series.len(), 3, "{name}: three images");
    }
}

/// The documented mapping on the real files: wavelength sweeps are channels, an XZ scan is a
/// plane with Z as rows (its Y steps, if any, become Z), time stays T.
#[test]
fn real_files_map_extra_dimensions_as_documented() {
    let ws = common::real(REAL[0]);
    let want = [
        ("CYX", vec![20, 64, 64]),
        ("CYX", vec![15, 64, 64]),
        ("TCZYX", vec![2, 10, 11, 64, 64]),
    ];
    for (i, (axes, shape)) in want.iter().enumerate() {
        let src = open_series(&ws, i).unwrap();
        assert_eq!(axes_string(&src.meta().axes), *axes);
        assert_eq!(&src.meta().shape, shape);
    }
    let m = open_series(&ws, 2).unwrap().meta().clone();
    // 80.91 s over 2 time points; 63x/1.3 glycerol objective on a DMI6000 stand.
    assert!(
        close(m.time_increment.unwrap(), 80.91),
        "{:?}",
        m.time_increment
    );
    assert_eq!(m.time_unit.as_deref(), Some("second"));
    let inst = m.instrument.expect("instrument");
    assert_eq!(inst["microscope"]["Model"], "DMI6000B-CS");
    assert_eq!(inst["objectives"][0]["LensNA"], 1.3);
    assert!(
        m.acquired_at.as_deref().unwrap().starts_with("2021-01-"),
        "{:?}",
        m.acquired_at
    );
    let xz = common::real(REAL[1]);
    let want = [
        ("TCYX", vec![20, 2, 128, 128]),
        ("CZYX", vec![2, 23, 128, 128]),
        ("CYX", vec![2, 512, 512]),
    ];
    for (i, (axes, shape)) in want.iter().enumerate() {
        let src = open_series(&xz, i).unwrap();
        assert_eq!(axes_string(&src.meta().axes), *axes);
        assert_eq!(&src.meta().shape, shape);
    }
}

#[test]
fn mosaic_tiles_are_series_matching_readlif() {
    let path = made().join("mosaic.lif");
    let reference = check_pixels_against_readlif(&path, "mosaic");
    assert_eq!(reference.series.len(), 3);
    let m = open_series(&path, 1).unwrap().meta().clone();
    assert_eq!(
        m.series[1].name.as_deref(),
        Some("TileScan 1 (tile 2 of 3)")
    );
    assert_eq!(m.metadata["mosaic_tile"]["count"], 3);
}

/// Interleaved B, G, R channels read as an S axis in R, G, B order.
#[test]
fn rgb_images_have_an_s_axis_in_rgb_order() {
    let dir = made();
    let src = open_series(&dir.join("rgb.lif"), 0).unwrap();
    assert_eq!(axes_string(&src.meta().axes), "ZYXS");
    assert_eq!(src.meta().shape, vec![2, 30, 50, 3]);
    let want = std::fs::read(dir.join("rgb.lif.raw")).unwrap();
    for band in [1, 4, 30] {
        assert!(all_planes(src.as_ref(), band) == want, "band {band}");
    }
    bands_concatenate_to_plane(src.as_ref()).unwrap();
}

/// Version 1 files give memory block sizes in 32 bits: the same pixels must come out (those of
/// version 2 are checked against readlif above).
#[test]
fn version_1_block_headers_read_the_same() {
    let v2 = std::fs::read(sample_w()).unwrap();
    let xml_end = 13 + 2 * u32::from_le_bytes(v2[9..13].try_into().unwrap()) as usize;
    let header: Vec<u16> = v2[13..xml_end]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let xml = String::from_utf16(&header)
        .unwrap()
        .replacen("Version=\"2\"", "Version=\"1\"", 1);
    let mut v1 = v2[..13].to_vec();
    v1.extend(xml.encode_utf16().flat_map(u16::to_le_bytes));
    let mut pos = xml_end;
    while pos < v2.len() {
        let size = u64::from_le_bytes(v2[pos + 9..pos + 17].try_into().unwrap()) as usize;
        let id_chars = u32::from_le_bytes(v2[pos + 18..pos + 22].try_into().unwrap()) as usize;
        let data = pos + 22 + 2 * id_chars;
        v1.extend_from_slice(&v2[pos..pos + 9]);
        v1.extend_from_slice(&(size as u32).to_le_bytes());
        v1.extend_from_slice(&v2[pos + 17..data + size]);
        pos = data + size;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.lif");
    std::fs::write(&path, &v1).unwrap();
    for i in 0..2 {
        let a = open_series(&sample_w(), i).unwrap();
        let b = open_series(&path, i).unwrap();
        assert_eq!(a.meta().shape, b.meta().shape);
        assert!(
            all_planes(a.as_ref(), 64) == all_planes(b.as_ref(), 64),
            "series {i}"
        );
    }
}
