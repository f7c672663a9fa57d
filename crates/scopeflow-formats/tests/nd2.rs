//! The ND2 reader against the `nd2` Python package (the independent reference): the five real
//! NIS-Elements files, and rewrites of them (`nd2_variants.py`) with zlib frames, padded rows,
//! RGB and 8-bit pixels, XML-variant metadata (version 3 and 2 files) and an XY-position ×
//! time × Z experiment, each read by the nd2 package first.

use std::path::Path;

use scopeflow_core::Axis;
use scopeflow_formats::{conformance, open_series};

mod nd2_common;
use nd2_common::{REAL, Reference, read_plane, real, reference, variant};

/// Everything our reader says about `path` equals what the nd2 package reads.
fn matches_reference(path: &Path) {
    let r = reference(path);
    let shape = r.shape();
    let positions = shape[0];
    let first = open_series(path, 0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.meta().series.len(), positions, "{}", path.display());
    for p in 0..positions {
        let src = open_series(path, p).unwrap_or_else(|e| panic!("{e}"));
        let m = src.meta();
        let ctx = format!("{} series {p}", path.display());
        assert_eq!(m.format, "nd2");
        assert_eq!(m.series, first.meta().series, "{ctx}");
        // Axes and shape: the reference's sizes without P, in T C Z Y X S order.
        let mut want: Vec<(String, usize)> =
            r.sizes().into_iter().filter(|(k, _)| k != "P").collect();
        let order = "TCZYXS";
        want.sort_by_key(|(k, _)| order.find(k.as_str()).unwrap());
        let want_axes: String = want.iter().map(|(k, _)| k.as_str()).collect();
        let want_shape: Vec<usize> = want.iter().map(|(_, n)| *n).collect();
        assert_eq!(scopeflow_core::axes_string(&m.axes), want_axes, "{ctx}");
        assert_eq!(m.shape, want_shape, "{ctx}");
        assert_eq!(m.dtype.name(), r.json["dtype"], "{ctx}");
        assert_eq!(m.series[p].shape, want_shape, "{ctx}");
        let names: Vec<String> = serde_json::from_value(r.json["channel_names"].clone()).unwrap();
        if names.len() == m.channel_count() {
            assert_eq!(m.channel_names.as_ref(), Some(&names), "{ctx}");
        } else {
            assert_eq!(m.channel_names, None, "{ctx}");
        }
        let pos_names = r.json["positions"].as_array().unwrap();
        if let Some(name) = pos_names.get(p).and_then(|v| v.as_str()) {
            assert_eq!(m.series[p].name.as_deref(), Some(name), "{ctx}");
        }
        // Physical sizes: the nd2 package's voxel size where the file is calibrated.
        let vs = &r.json["voxel_size"];
        let phys = m.physical_sizes.expect("calibrated samples");
        assert!(r.json["calibrated"].as_bool().unwrap());
        assert_eq!(phys.x, vs[0].as_f64(), "{ctx}");
        assert_eq!(phys.y, vs[1].as_f64(), "{ctx}");
        assert_eq!(phys.z, r.json["z_step"].as_f64(), "{ctx}");
        assert_eq!(m.physical_unit.as_deref(), Some("micrometer"));
        // Time step: the loop's period, or its measured mean when it ran as fast as possible.
        let period = r.json["period_ms"].as_f64().map(|ms| ms / 1000.0);
        assert_eq!(m.time_increment, period, "{ctx}");
        let unit = period.map(|_| "second");
        assert_eq!(m.time_unit.as_deref(), unit, "{ctx}");
        // Acquisition time: the same instant as the nd2 package's (to the millisecond).
        let want_time = r.json["acquired_utc"].as_str().map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        });
        let got_time = m.acquired_at.as_deref().map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap_or_else(|e| panic!("{s}: {e}"))
                .timestamp_millis()
        });
        let close = matches!((want_time, got_time), (Some(a), Some(b)) if (a - b).abs() <= 1);
        assert!(close, "{ctx}: {want_time:?} vs {got_time:?}");
        // The objective, as the nd2 package reads it.
        let objective = &m.instrument.as_ref().expect("instrument")["objective"];
        for (ours, theirs) in [
            ("name", "objective_name"),
            ("magnification", "objective_mag"),
            ("numerical_aperture", "objective_na"),
        ] {
            let want = &r.json[theirs];
            let got = objective.get(ours).unwrap_or(&serde_json::Value::Null);
            assert!(
                got.as_f64().zip(want.as_f64()).is_some_and(|(a, b)| a == b) || got == want,
                "{ctx}: objective {ours}: {got} vs {want}"
            );
        }
        // Every plane, byte for byte.
        let mut planes = 0;
        for n in 0..scopeflow_formats::plane_count(m) {
            let idx = scopeflow_formats::plane_index(m, n);
            let (mut t, mut c, mut z) = (0, 0, 0);
            for (axis, &i) in m.plane_axes().iter().zip(&idx) {
                match axis {
                    Axis::T => t = i,
                    Axis::C => c = i,
                    _ => z = i,
                }
            }
            let ours = read_plane(src.as_ref(), &idx);
            assert!(
                ours == r.plane(p, t, c, z),
                "{ctx}: plane t={t} c={c} z={z} differs from the nd2 package's"
            );
            planes += 1;
        }
        assert_eq!(planes, shape[1] * shape[2] * shape[3], "{ctx}");
        conformance::bands_concatenate_to_plane(src.as_ref())
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    }
}

#[test]
fn real_files_match_the_nd2_package() {
    for name in REAL {
        matches_reference(&real(name));
    }
}

#[test]
fn zlib_padded_rgb_u8_xml_and_multi_position_rewrites_match_the_nd2_package() {
    let dir = tempfile::tempdir().unwrap();
    let timelapse = real("arcadia_example-timelapse.nd2");
    for kinds in [
        "zlib",
        "padded",
        "positions",
        "positions,zlib,padded",
        "xml",
        "xml,v2",
        "positions,xml,v2,zlib",
        "positions,time_outer",
        "positions,lvzip",
        "positions,netime",
        "positions,netime,time_outer,xml",
    ] {
        let v = variant(&timelapse, kinds, dir.path());
        matches_reference(&v);
    }
    // (With XML metadata the nd2 package drops the invalid flag of the ND time loop, so its
    // T spans 6 time points of which only the first 2 are stored: the rest read as zeros.)
    let multichannel = real("arcadia_example-multichannel.nd2");
    for kinds in [
        "zlib,padded",
        "rgb",
        "u8",
        "rgb,u8,zlib,padded",
        "rgb,xml,v2",
    ] {
        matches_reference(&variant(&multichannel, kinds, dir.path()));
    }
}

#[test]
fn positions_are_series_with_their_names_and_the_z_step() {
    let dir = tempfile::tempdir().unwrap();
    let v = variant(
        &real("arcadia_example-timelapse.nd2"),
        "positions",
        dir.path(),
    );
    let src = open_series(&v, 1).unwrap();
    let m = src.meta();
    let names: Vec<Option<&str>> = m.series.iter().map(|s| s.name.as_deref()).collect();
    // The second of three points is marked invalid, so the series are A and C.
    assert_eq!(names, [Some("well A"), Some("well C")]);
    assert_eq!(scopeflow_core::axes_string(&m.axes), "TZYX");
    assert_eq!(m.physical_sizes.unwrap().z, Some(2.5));
    assert_eq!(m.time_increment, Some(1.5));
    assert_eq!(m.metadata["position_name"], "well C");
    let err = open_series(&v, 2)
        .err()
        .expect("no third series")
        .to_string();
    assert!(
        err.contains("no series 2") && err.contains("holds 2"),
        "{err}"
    );
}

#[test]
fn compressed_and_padded_frames_read_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let original = real("arcadia_example-multichannel.nd2");
    let v = variant(&original, "zlib,padded", dir.path());
    let (a, b) = (
        open_series(&original, 0).unwrap(),
        open_series(&v, 0).unwrap(),
    );
    assert_eq!(b.meta().metadata["compression"], "lossless");
    assert_eq!(b.natural_rows(), b.meta().height());
    for c in 0..4 {
        assert_eq!(read_plane(a.as_ref(), &[c]), read_plane(b.as_ref(), &[c]));
    }
}

#[test]
fn metadata_names_the_objective_and_keeps_a_compact_summary() {
    let r: Reference = reference(&real("arcadia_example-zstack.nd2"));
    let src = open_series(&real("arcadia_example-zstack.nd2"), 0).unwrap();
    let m = src.meta();
    let inst = m.instrument.as_ref().expect("instrument");
    assert_eq!(inst["objective"]["name"], r.json["objective_name"]);
    assert_eq!(
        inst["objective"]["numerical_aperture"],
        r.json["objective_na"]
    );
    assert_eq!(m.metadata["nd2_version"], "3.0");
    assert!(serde_json::to_string(&m.metadata).unwrap().len() < 64 << 10);
    assert!(m.ome_xml.is_none());
}
