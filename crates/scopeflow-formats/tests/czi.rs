//! The CZI reader against the ground truth of `make_format_samples.py`, against pylibCZIrw
//! (libCZI, Zeiss' own reader) pixel for pixel, and against the real AICS file.

use std::path::Path;

use scopeflow_core::DType;
use scopeflow_formats::conformance::bands_concatenate_to_plane;
use serde_json::Value;

mod common;
mod czi_common;
use czi_common::{assert_same_as_pylibczirw, make_samples, our_planes, run_python};

fn truth(path: &Path) -> Value {
    let t = path.with_file_name(format!(
        "{}.truth.json",
        path.file_name().unwrap().to_string_lossy()
    ));
    serde_json::from_str(&std::fs::read_to_string(&t).unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

fn assert_phys(path: &Path, got: Option<scopeflow_core::PhysicalSizes>, want: &Value) {
    if want.is_null() {
        assert!(
            got.is_none_or(|p| p.is_empty()),
            "{}: {got:?}",
            path.display()
        );
        return;
    }
    let got = got.unwrap_or_else(|| panic!("{}: no physical sizes", path.display()));
    for (axis, v) in [("x", got.x), ("y", got.y), ("z", got.z)] {
        match want.get(axis).and_then(Value::as_f64) {
            Some(w) => assert!(
                v.is_some_and(|v| close(v, w)),
                "{} {axis}: {v:?} vs {w}",
                path.display()
            ),
            None => assert!(
                v.is_none(),
                "{} {axis}: {v:?} not in the truth",
                path.display()
            ),
        }
    }
}

/// Per-channel figures of the truth that follow from the pixels and the truth's threshold:
/// pixel counts on each side of the Otsu threshold, their means, the saturation fraction.
fn assert_channel_stats(src: &dyn scopeflow_formats::ImageSource, channels: &[Value]) {
    let meta = src.meta();
    let raw = our_planes(src);
    let (values, satmax): (Vec<f64>, f64) = match meta.dtype {
        DType::U16 => (
            raw.chunks_exact(2)
                .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])))
                .collect(),
            65535.0,
        ),
        DType::U8 => (raw.iter().map(|&b| f64::from(b)).collect(), 255.0),
        other => panic!("stats check not written for {other:?}"),
    };
    let plane = meta.width() * meta.height();
    let c_axis = meta
        .plane_axes()
        .iter()
        .position(|a| *a == scopeflow_core::Axis::C);
    assert_eq!(
        channels.len(),
        meta.axis_len(scopeflow_core::Axis::C).unwrap_or(1)
    );
    for (c, want) in channels.iter().enumerate() {
        let t = want["otsu_threshold"].as_f64().unwrap();
        let (mut ns, mut nb, mut ss, mut sb, mut sat) = (0usize, 0usize, 0f64, 0f64, 0usize);
        for (p, chunk) in values.chunks_exact(plane).enumerate() {
            let idx = scopeflow_formats::plane_index(meta, p);
            if c_axis.is_some_and(|k| idx[k] != c) {
                continue;
            }
            for &v in chunk {
                if v > t {
                    ns += 1;
                    ss += v;
                } else {
                    nb += 1;
                    sb += v;
                }
                sat += usize::from(v == satmax);
            }
        }
        let what = format!("{} channel {c}", src.path().display());
        assert_eq!(ns as u64, want["n_signal"].as_u64().unwrap(), "{what}");
        assert_eq!(nb as u64, want["n_background"].as_u64().unwrap(), "{what}");
        let rel = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert!(
            rel(ss / ns as f64, want["mean_signal"].as_f64().unwrap()),
            "{what}"
        );
        assert!(
            rel(sb / nb as f64, want["mean_background"].as_f64().unwrap()),
            "{what}"
        );
        let fraction = sat as f64 / (ns + nb) as f64;
        assert!(
            rel(fraction, want["saturation_fraction"].as_f64().unwrap()),
            "{what}"
        );
    }
}

#[test]
fn synthetic_samples_match_truth_and_pylibczirw() {
    let dir = tempfile::tempdir().unwrap();
    make_samples(dir.path(), "pqr");
    for name in [
        "p_czi_zstd_czyx_u16.czi",
        "q_czi_raw_yx_u8.czi",
        "r_czi_2scenes_tyx_u16.czi",
    ] {
        let path = dir.path().join(name);
        let truth = truth(&path);
        let series = truth["series"].as_array().unwrap();
        for (i, want) in series.iter().enumerate() {
            let src = scopeflow_formats::open_series(&path, i).unwrap_or_else(|e| panic!("{e}"));
            let meta = src.meta();
            assert_eq!(meta.format, "czi");
            assert_eq!(
                scopeflow_core::axes_string(&meta.axes),
                want["axes"].as_str().unwrap(),
                "{name} {i}"
            );
            let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
            assert_eq!(meta.shape, shape, "{name} {i}");
            assert_eq!(meta.dtype.name(), want["dtype"].as_str().unwrap());
            assert_phys(&path, meta.physical_sizes, &want["physical_sizes"]);
            let names: Option<Vec<String>> =
                serde_json::from_value(want["channel_names"].clone()).unwrap();
            assert_eq!(meta.channel_names, names, "{name} {i}");
            // The same series list whichever series is open.
            assert_eq!(meta.series.len(), series.len());
            for (k, (got, w)) in meta.series.iter().zip(series).enumerate() {
                assert_eq!(got.index, k);
                assert_eq!(got.name.as_deref(), w["name"].as_str(), "{name}");
                assert_eq!(got.axes, w["axes"].as_str().unwrap());
                assert_eq!(
                    got.shape,
                    serde_json::from_value::<Vec<usize>>(w["shape"].clone()).unwrap()
                );
                assert_eq!(got.dtype, w["dtype"].as_str().unwrap());
            }
            bands_concatenate_to_plane(src.as_ref()).unwrap_or_else(|e| panic!("{name} {i}: {e}"));
            assert_same_as_pylibczirw(&path, i);
            assert_channel_stats(src.as_ref(), want["channels"].as_array().unwrap());
        }
        let err = scopeflow_formats::open_series(&path, series.len())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(name) && err.contains(&format!("no series {}", series.len())),
            "{err}"
        );
    }
}

#[test]
fn real_aics_czi_matches_its_ome_tiff_and_pylibczirw() {
    let czi = common::real("aics_s_1_t_1_c_1_z_1.czi");
    let tiff = common::real("aics_s_1_t_1_c_1_z_1.ome.tiff");
    let truth = truth(&tiff);
    let src = scopeflow_formats::open(&czi).unwrap_or_else(|e| panic!("{e}"));
    let meta = src.meta();
    assert_eq!(
        scopeflow_core::axes_string(&meta.axes),
        truth["axes"].as_str().unwrap()
    );
    assert_eq!(
        meta.shape,
        serde_json::from_value::<Vec<usize>>(truth["shape"].clone()).unwrap()
    );
    assert_eq!(meta.dtype.name(), truth["dtype"].as_str().unwrap());
    assert_phys(&czi, meta.physical_sizes, &truth["physical_sizes"]);
    assert_eq!(meta.physical_unit.as_deref(), Some("micrometer"));
    assert_eq!(meta.channel_names, Some(vec!["Bright".to_string()]));
    assert_eq!(meta.series.len(), 1);
    // As MANIFEST.md describes the file's metadata.
    assert!(
        meta.acquired_at
            .as_deref()
            .unwrap()
            .starts_with("2019-06-27T18:33:40")
    );
    let inst = meta.instrument.as_ref().unwrap();
    assert_eq!(inst["microscope"]["Name"], "Axio Observer.Z1 / 7");
    assert_eq!(inst["objectives"][0]["Name"], "Plan-Apochromat 20x/0.8 M27");
    assert_eq!(
        meta.metadata["stage_origin_px"],
        serde_json::json!([39856, 39272])
    );
    assert!(
        serde_json::to_string(&meta.metadata).unwrap().len() < 4096,
        "metadata summary stays compact"
    );
    bands_concatenate_to_plane(src.as_ref()).unwrap();
    assert_same_as_pylibczirw(&czi, 0);
    assert_channel_stats(src.as_ref(), truth["channels"].as_array().unwrap());
    // Same acquisition in two formats: the same pixels through the TIFF reader.
    let t = scopeflow_formats::open(&tiff).unwrap();
    assert_eq!(our_planes(src.as_ref()), our_planes(t.as_ref()));
}

/// Writes CZIs that make_format_samples does not: mosaics with tiles at negative and
/// overlapping positions, colour and float pixels.
const WRITE_EXTRA: &str = r#"
import sys
import numpy as np
from pylibCZIrw import czi as pyczi
out = sys.argv[1]
rng = np.random.default_rng(20261204)
tiles = [(-100, -50), (50, -30), (-120, 60), (30, 40), (-20, 10)]
with pyczi.create_czi(out + "/mosaic.czi", exist_ok=True,
                      compression_options="zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack") as w:
    for c in range(2):
        for z in range(2):
            for x, y in tiles:
                w.write(rng.integers(1, 60000, (100, 150), dtype=np.uint16), plane={"C": c, "Z": z}, location=(x, y))
    # A second scene far away on the stage, uncompressed, with one tile missing for channel 1.
    for c in range(2):
        for z in range(2):
            for x, y in [(-70000, 123456), (-69900, 123456)][: 2 - c]:
                w.write(rng.integers(1, 60000, (60, 110), dtype=np.uint16), plane={"C": c, "Z": z},
                        location=(x, y), scene=1, compression_options="uncompressed:")
    w.write_metadata(document_name="mosaic", channel_names={0: "A", 1: "B"})
with pyczi.create_czi(out + "/bgr24.czi", exist_ok=True) as w:
    for x, y in [(5, 7), (60, 30)]:
        w.write(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8), location=(x, y))
with pyczi.create_czi(out + "/bgr48.czi", exist_ok=True, compression_options="zstd0:ExplicitLevel=1") as w:
    for t in range(2):
        w.write(rng.integers(0, 65536, (50, 70, 3), dtype=np.uint16), plane={"T": t}, location=(-3, 9))
# libCZI (pylibCZIrw 6.1.0) writes Bgr48 with HiLoByteUnpack correctly but reads it back wrong
# (garbage from beyond the buffer), so this one is compared with what was written, as R, G, B.
bgr = rng.integers(0, 65536, (50, 70, 3), dtype=np.uint16)
with pyczi.create_czi(out + "/bgr48_hilo.czi", exist_ok=True,
                      compression_options="zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack") as w:
    w.write(bgr, location=(11, -4))
open(out + "/bgr48_hilo.rgb", "wb").write(np.ascontiguousarray(bgr[..., ::-1]).astype("<u2").tobytes())
with pyczi.create_czi(out + "/float.czi", exist_ok=True, compression_options="zstd1:ExplicitLevel=1") as w:
    w.write(rng.random((64, 80), dtype=np.float32), location=(5, 7))
"#;

#[test]
fn mosaics_colour_and_float_match_pylibczirw() {
    let dir = tempfile::tempdir().unwrap();
    run_python(&["-c", WRITE_EXTRA, dir.path().to_str().unwrap()]);
    let mosaic = dir.path().join("mosaic.czi");
    let src = scopeflow_formats::open(&mosaic).unwrap();
    let meta = src.meta();
    assert_eq!(scopeflow_core::axes_string(&meta.axes), "CZYX");
    // Bounding box of the tiles: x -120..200, y -50..160.
    assert_eq!(meta.shape, vec![2, 2, 210, 320]);
    assert_eq!(meta.channel_names, Some(vec!["A".into(), "B".into()]));
    assert_eq!(meta.metadata["mosaic_tiles"], 5);
    assert_eq!(meta.series.len(), 2);
    assert_eq!(meta.series[1].shape, vec![2, 2, 60, 210]);
    for scene in 0..2 {
        let src = scopeflow_formats::open_series(&mosaic, scene).unwrap();
        bands_concatenate_to_plane(src.as_ref()).unwrap();
        assert_same_as_pylibczirw(&mosaic, scene);
    }
    let bgr24 = dir.path().join("bgr24.czi");
    let src = scopeflow_formats::open(&bgr24).unwrap();
    assert_eq!(scopeflow_core::axes_string(&src.meta().axes), "YXS");
    assert_eq!(src.meta().shape, vec![87, 135, 3]);
    assert_eq!(src.meta().dtype, DType::U8);
    assert_same_as_pylibczirw(&bgr24, 0);
    bands_concatenate_to_plane(src.as_ref()).unwrap();
    let bgr48 = dir.path().join("bgr48.czi");
    let src = scopeflow_formats::open(&bgr48).unwrap();
    assert_eq!(scopeflow_core::axes_string(&src.meta().axes), "TYXS");
    assert_eq!(src.meta().dtype, DType::U16);
    assert_same_as_pylibczirw(&bgr48, 0);
    bands_concatenate_to_plane(src.as_ref()).unwrap();
    let hilo = dir.path().join("bgr48_hilo.czi");
    let src = scopeflow_formats::open(&hilo).unwrap();
    assert_eq!(src.meta().shape, vec![50, 70, 3]);
    let written = std::fs::read(dir.path().join("bgr48_hilo.rgb")).unwrap();
    assert!(
        our_planes(src.as_ref()) == written,
        "Bgr48 zstd1 HiLoByteUnpack"
    );
    bands_concatenate_to_plane(src.as_ref()).unwrap();
    let float = dir.path().join("float.czi");
    let src = scopeflow_formats::open(&float).unwrap();
    assert_eq!(src.meta().dtype, DType::F32);
    assert_same_as_pylibczirw(&float, 0);
    bands_concatenate_to_plane(src.as_ref()).unwrap();
}

/// Two side-by-side tiles; the right one is turned into a pyramid level (stored at half its
/// logical size) in the directory: the scene shrinks to the left tile, whose pixels stay.
const WRITE_TWO_TILES: &str = r#"
import sys
import numpy as np
from pylibCZIrw import czi as pyczi
rng = np.random.default_rng(7)
with pyczi.create_czi(sys.argv[1], exist_ok=True) as w:
    w.write(rng.integers(0, 256, (40, 50), dtype=np.uint8), location=(1000, 2000))
    w.write(rng.integers(0, 256, (40, 50), dtype=np.uint8), location=(1050, 2000))
with pyczi.open_czi(sys.argv[1]) as r:
    sys.stdout.buffer.write(np.ascontiguousarray(r.read(roi=(1000, 2000, 50, 40))[..., 0]).tobytes())
"#;

#[test]
fn pyramid_subblocks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.czi");
    let out = std::process::Command::new(common::python())
        .args(["-c", WRITE_TWO_TILES, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left_tile = out.stdout;
    assert_eq!(left_tile.len(), 40 * 50);
    let mut bytes = std::fs::read(&path).unwrap();
    let entries = czi_common::directory_entries(&bytes);
    assert_eq!(entries.len(), 2);
    let right = &entries[1];
    for l in ['X', 'Y'] {
        let at = right.dim_field(l, 16);
        let stored = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        czi_common::put_i32(&mut bytes, at, stored / 2);
    }
    std::fs::write(&path, &bytes).unwrap();
    let src = scopeflow_formats::open(&path).unwrap();
    assert_eq!(src.meta().shape, vec![40, 50]);
    assert_eq!(src.meta().metadata["pyramid_subblocks_skipped"], 1);
    assert_eq!(our_planes(src.as_ref()), left_tile);
}

/// Three tiles stacked vertically; the bottom one's zstd frame is broken. Bands above it read
/// (only the subblocks a band touches are decoded), a band touching it fails.
#[test]
fn a_band_decodes_only_the_subblocks_it_touches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.czi");
    let script = r#"
import sys
import numpy as np
from pylibCZIrw import czi as pyczi
rng = np.random.default_rng(3)
with pyczi.create_czi(sys.argv[1], exist_ok=True, compression_options="zstd0:ExplicitLevel=1") as w:
    for y in (0, 100, 200):
        w.write(rng.integers(0, 65536, (100, 64), dtype=np.uint16), location=(-500, y - 7000))
"#;
    run_python(&["-c", script, path.to_str().unwrap()]);
    let mut bytes = std::fs::read(&path).unwrap();
    let entries = czi_common::directory_entries(&bytes);
    let last = &entries[2];
    let at = last.at + czi_common::DirEntry::FILE_POSITION;
    let pos = i64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let meta_size = i32::from_le_bytes(bytes[pos + 32..pos + 36].try_into().unwrap()) as usize;
    let data = pos + 32 + 256 + meta_size;
    assert_eq!(
        bytes[data..data + 4],
        [0x28, 0xb5, 0x2f, 0xfd],
        "zstd frame magic"
    );
    bytes[data..data + 4].fill(0);
    std::fs::write(&path, &bytes).unwrap();
    let src = scopeflow_formats::open(&path).unwrap();
    assert_eq!(src.meta().shape, vec![300, 64]);
    let mut reader = src.plane_reader(&[]).unwrap();
    let mut band = vec![0u8; 150 * 64 * 2];
    reader.read_rows(0, 150, &mut band).unwrap();
    let mut band = vec![0u8; 50 * 64 * 2];
    reader.read_rows(150, 200, &mut band).unwrap();
    let err = reader
        .read_rows(180, 230, &mut band)
        .unwrap_err()
        .to_string();
    assert!(err.contains("stack.czi") && err.contains("zstd"), "{err}");
}
