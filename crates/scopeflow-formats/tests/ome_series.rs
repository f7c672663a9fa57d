//! Multi-series OME-TIFF: every series opens through `open_series`, with its own axes, shape,
//! dtype, physical sizes and channel names, and pixels identical to what tifffile reads; the
//! series list is the same whichever series was opened; a series past the end is an error
//! naming the file and the count.

use std::path::{Path, PathBuf};
use std::process::Command;

use scopeflow_formats::{
    FormatError, ImageSource, conformance, open_series, plane_count, plane_index,
};
use serde_json::Value;

mod common;
use common::python;

/// Three series (CZYX uint16, TYX float32, YXS uint8 RGB); `facts.json` holds tifffile's view of
/// each and `series<N>.raw` its pixels as little-endian bytes in tifffile's axis order.
const MAKE: &str = r#"
import json, sys
import numpy as np, tifffile
out, d = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
a = rng.integers(0, 4000, size=(2, 3, 150, 130), dtype=np.uint16)
b = (rng.random((4, 90, 70)) * 100).astype(np.float32)
c = rng.integers(0, 256, size=(61, 47, 3), dtype=np.uint8)
with tifffile.TiffWriter(out, ome=True) as tw:
    tw.write(a, metadata={"axes": "CZYX", "Name": "first", "Channel": {"Name": ["DAPI", "GFP"]},
                          "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1.5})
    tw.write(b, metadata={"axes": "TYX", "Name": "second", "PhysicalSizeX": 500,
                          "PhysicalSizeXUnit": "nm", "PhysicalSizeY": 500, "PhysicalSizeYUnit": "nm"})
    tw.write(c, photometric="rgb", metadata={"axes": "YXS", "Name": "third"})
facts = []
with tifffile.TiffFile(out) as tf:
    for i, s in enumerate(tf.series):
        arr = s.asarray()
        open(f"{d}/series{i}.raw", "wb").write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        facts.append({"axes": s.axes, "shape": list(s.shape), "dtype": str(s.dtype), "name": s.name})
json.dump(facts, open(f"{d}/facts.json", "w"))
"#;

fn make(dir: &Path) -> (PathBuf, Vec<Value>) {
    let file = dir.join("multi.ome.tif");
    let out = Command::new(python())
        .arg("-c")
        .arg(MAKE)
        .arg(&file)
        .arg(dir)
        .output()
        .expect("run the tests' python (SCOPEFLOW_PYTHON)");
    assert!(
        out.status.success(),
        "tifffile could not write the sample: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: Value =
        serde_json::from_slice(&std::fs::read(dir.join("facts.json")).unwrap()).unwrap();
    (file, facts.as_array().unwrap().clone())
}

/// Every plane, in order, concatenated: C order over the plane axes, which is tifffile's
/// array order when the axes agree.
fn all_pixels(src: &dyn ImageSource) -> Vec<u8> {
    let meta = src.meta();
    let row = meta.width() * meta.samples() * meta.dtype.size();
    let mut out = Vec::new();
    for p in 0..plane_count(meta) {
        let mut plane = vec![0u8; meta.height() * row];
        src.read_rows(&plane_index(meta, p), 0, meta.height(), &mut plane)
            .unwrap();
        out.extend_from_slice(&plane);
    }
    out
}

#[test]
fn every_series_opens_with_its_own_layout_and_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let (file, facts) = make(dir.path());
    for (i, want) in facts.iter().enumerate() {
        let src = open_series(&file, i).unwrap();
        let meta = src.meta();
        assert_eq!(meta.format, "ome-tiff");
        assert_eq!(
            scopeflow_core::axes_string(&meta.axes),
            want["axes"],
            "series {i}"
        );
        let shape: Vec<u64> = meta.shape.iter().map(|&n| n as u64).collect();
        assert_eq!(Value::from(shape), want["shape"], "series {i}");
        assert_eq!(meta.dtype.name(), want["dtype"], "series {i}");
        assert_eq!(
            meta.series.len(),
            facts.len(),
            "series {i} lists every series"
        );
        for (j, s) in meta.series.iter().enumerate() {
            assert_eq!(s.index, j);
            assert_eq!(
                s.axes,
                facts[j]["axes"].as_str().unwrap(),
                "summary {j} from {i}"
            );
            assert_eq!(
                s.dtype,
                facts[j]["dtype"].as_str().unwrap(),
                "summary {j} from {i}"
            );
            assert_eq!(
                s.name.as_deref(),
                facts[j]["name"].as_str(),
                "summary {j} from {i}"
            );
        }
        let raw = std::fs::read(dir.path().join(format!("series{i}.raw"))).unwrap();
        assert!(
            all_pixels(src.as_ref()) == raw,
            "series {i}: pixels differ from tifffile's"
        );
        conformance::bands_concatenate_to_plane(src.as_ref()).unwrap();
    }

    let first = open_series(&file, 0).unwrap();
    let m = first.meta();
    assert_eq!(
        m.channel_names.as_deref(),
        Some(&["DAPI".to_string(), "GFP".to_string()][..])
    );
    let p = m.physical_sizes.unwrap();
    assert_eq!((p.x, p.y, p.z), (Some(0.25), Some(0.25), Some(1.5)));
    assert_eq!(m.physical_unit.as_deref(), Some("micrometer"));

    let second = open_series(&file, 1).unwrap();
    let m = second.meta();
    assert_eq!(m.channel_names, None);
    let p = m.physical_sizes.unwrap();
    assert_eq!((p.x, p.y, p.z), (Some(500.0), Some(500.0), None));
    assert_eq!(m.physical_unit.as_deref(), Some("nanometer"));
}

#[test]
fn a_series_past_the_end_names_the_file_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = make(dir.path());
    let err = open_series(&file, 3)
        .err()
        .expect("series 3 of 3 must fail");
    assert!(matches!(err, FormatError::Usage { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("multi.ome.tif") && text.contains("holds 3"),
        "{text}"
    );

    let plain = dir.path().join("plain.tif");
    let out = Command::new(python())
        .args([
            "-c",
            "import sys, numpy, tifffile; tifffile.imwrite(sys.argv[1], numpy.zeros((4, 5), 'u2'))",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = open_series(&plain, 1)
        .err()
        .expect("a plain TIFF has one series");
    assert!(err.to_string().contains("holds 1"), "{err}");
}
