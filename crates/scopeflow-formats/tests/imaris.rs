//! The Imaris reader against h5py (pixels, exactly) and the synthetic sample's truth: the
//! synthetic `s` sample (C=2 Z=6, padded), the real minimal file of ImarisWriter, a padded
//! time series in nm and a float32 plane written here with h5py; other HDF5 files and broken
//! layouts are refused with the file and the cause.
#![cfg(feature = "imaris")]

mod common;
#[path = "common/imaris.rs"]
mod fixtures;

use std::path::Path;

use scopeflow_core::ImageMeta;
use scopeflow_formats::{FormatError, ImageSource, conformance, plane_count, plane_index};
use serde_json::Value;

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-12)
}

/// `meta` agrees with what h5py read (`expect.json` of imaris_fixtures.py).
fn check_meta(path: &Path, meta: &ImageMeta, expect: &Value) {
    let what = path.display();
    assert_eq!(meta.format, "imaris", "{what}");
    let axes = scopeflow_core::axes_string(&meta.axes);
    assert_eq!(axes, expect["axes"].as_str().unwrap(), "{what}: axes");
    let shape: Vec<usize> = serde_json::from_value(expect["shape"].clone()).unwrap();
    assert_eq!(meta.shape, shape, "{what}: shape");
    assert_eq!(meta.dtype.name(), expect["dtype"], "{what}: dtype");
    let phys = meta.physical_sizes.unwrap_or_default();
    for (axis, got) in [("x", phys.x), ("y", phys.y), ("z", phys.z)] {
        match (got, expect["physical_sizes"][axis].as_f64()) {
            (Some(g), Some(w)) => assert!(close(g, w, 1e-9), "{what}: size {axis} {g} != {w}"),
            (None, None) => {}
            (g, w) => panic!("{what}: physical size {axis}: got {g:?}, h5py {w:?}"),
        }
    }
    if meta.physical_sizes.is_some() {
        assert_eq!(meta.physical_unit.as_deref(), Some("micrometer"), "{what}");
    }
    let names: Option<Vec<String>> =
        serde_json::from_value(expect["channel_names"].clone()).unwrap();
    assert_eq!(meta.channel_names, names, "{what}: channel names");
    match (&meta.acquired_at, expect["acquired_at_epoch"].as_f64()) {
        (Some(got), Some(want)) => {
            let got = chrono::DateTime::parse_from_rfc3339(got).expect("RFC 3339");
            let secs = got.timestamp_micros() as f64 / 1e6;
            assert!(
                close(secs, want, 1e-12),
                "{what}: acquired_at {got} != {want}"
            );
        }
        (None, None) => {}
        (g, w) => panic!("{what}: acquired_at: got {g:?}, h5py {w:?}"),
    }
    match (meta.time_increment, expect["time_increment"].as_f64()) {
        (Some(g), Some(w)) => {
            assert!(close(g, w, 1e-9), "{what}: time increment {g} != {w}");
            assert_eq!(meta.time_unit.as_deref(), Some("second"));
        }
        (None, None) => {}
        (g, w) => panic!("{what}: time increment: got {g:?}, h5py {w:?}"),
    }
    assert_eq!(meta.series.len(), 1, "{what}: one series");
    assert_eq!(meta.series[0].axes, axes);
    assert_eq!(meta.series[0].shape, meta.shape);
    assert_eq!(meta.series[0].dtype, meta.dtype.name());
    assert!(meta.ome_xml.is_none());
}

/// Pixels equal h5py's, in bands of several heights; per-channel min, max and mean too.
fn check_pixels(path: &Path, src: &dyn ImageSource, expect: &Value, planes: &[u8]) {
    let meta = src.meta();
    for band in [1, 13, src.natural_rows(), meta.height()] {
        let ours = fixtures::all_planes(src, band);
        assert_eq!(ours.len(), planes.len(), "{}: byte count", path.display());
        assert!(
            ours == planes,
            "{}: pixels differ from h5py (bands of {band})",
            path.display()
        );
    }
    // Planes in reverse order, two readers alive at once (the source keeps the last dataset
    // open between readers: switching channels and time points must not mix them up).
    let plane_bytes = meta.height() * meta.width() * meta.dtype.size();
    let n = plane_count(meta);
    for p in (0..n).rev() {
        let other = plane_index(meta, (p + 1) % n);
        let mut keep = src.plane_reader(&other).unwrap();
        let mut buf = vec![0u8; plane_bytes];
        src.read_rows(&plane_index(meta, p), 0, meta.height(), &mut buf)
            .unwrap();
        assert!(
            buf[..] == planes[p * plane_bytes..(p + 1) * plane_bytes],
            "plane {p} (reverse)"
        );
        let mut row = vec![0u8; plane_bytes / meta.height()];
        keep.read_rows(0, 1, &mut row).unwrap();
        let o = (p + 1) % n * plane_bytes;
        assert!(
            row[..] == planes[o..o + row.len()],
            "plane {} row 0",
            (p + 1) % n
        );
    }
    let channels = expect["channels"].as_array().unwrap();
    let stats = channel_stats(src);
    assert_eq!(stats.len(), channels.len());
    for (c, (s, want)) in stats.iter().zip(channels).enumerate() {
        for (key, got) in [("min", s.min), ("max", s.max), ("mean", s.mean)] {
            let w = want[key].as_f64().unwrap();
            let g = got.unwrap_or(f64::NAN);
            assert!(
                close(g, w, 1e-9),
                "{}: channel {c} {key} {g} != {w}",
                path.display()
            );
        }
    }
}

/// Per-channel QC of our pixels (the C axis, or one channel).
fn channel_stats(src: &dyn ImageSource) -> Vec<scopeflow_core::ChannelQc> {
    let meta = src.meta();
    let axes = meta.plane_axes();
    let c_pos = axes.iter().position(|&a| a == scopeflow_core::Axis::C);
    let mut acc: Vec<_> = (0..meta.channel_count())
        .map(|_| scopeflow_qc::ChannelAccumulator::new(meta.dtype))
        .collect();
    let row = meta.width() * meta.dtype.size();
    for n in 0..plane_count(meta) {
        let plane = plane_index(meta, n);
        let mut buf = vec![0u8; meta.height() * row];
        src.read_rows(&plane, 0, meta.height(), &mut buf).unwrap();
        acc[c_pos.map_or(0, |i| plane[i])].add(&buf);
    }
    acc.iter()
        .enumerate()
        .map(|(i, a)| a.finish(i, None))
        .collect()
}

#[test]
fn synthetic_sample_matches_truth_and_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixtures::synthetic(dir.path());
    let truth: Value =
        serde_json::from_slice(&std::fs::read(format!("{}.truth.json", path.display())).unwrap())
            .unwrap();
    let src = scopeflow_formats::open(&path).unwrap();
    let meta = src.meta();
    assert_eq!(scopeflow_core::axes_string(&meta.axes), truth["axes"]);
    assert_eq!(serde_json::to_value(&meta.shape).unwrap(), truth["shape"]);
    assert_eq!(meta.dtype.name(), truth["dtype"]);
    assert_eq!(
        serde_json::to_value(&meta.channel_names).unwrap(),
        truth["channel_names"]
    );
    let phys = meta.physical_sizes.unwrap();
    for (axis, got) in [("x", phys.x), ("y", phys.y), ("z", phys.z)] {
        let want = truth["physical_sizes"][axis].as_f64().unwrap();
        assert!(
            close(got.unwrap(), want, 1e-9),
            "size {axis}: {got:?} != {want}"
        );
    }
    assert_eq!(
        meta.physical_unit.as_deref(),
        truth["physical_unit"].as_str()
    );
    let series = truth["series"].as_array().unwrap();
    assert_eq!(meta.series.len(), series.len());
    for (ours, want) in meta.series.iter().zip(series) {
        assert_eq!(ours.axes, want["axes"].as_str().unwrap());
        assert_eq!(serde_json::to_value(&ours.shape).unwrap(), want["shape"]);
        assert_eq!(ours.dtype, want["dtype"].as_str().unwrap());
    }
    // QC of our pixels equals the truth's (computed by the generator from its own arrays).
    let stats = channel_stats(src.as_ref());
    let want = truth["channels"].as_array().unwrap();
    assert_eq!(stats.len(), want.len());
    for (c, (got, want)) in stats.iter().zip(want).enumerate() {
        let got = serde_json::to_value(got).unwrap();
        for key in [
            "snr",
            "saturation_fraction",
            "otsu_threshold",
            "mean_background",
            "n_signal",
        ] {
            let (g, w) = (got[key].as_f64().unwrap(), want[key].as_f64().unwrap());
            assert!(close(g, w, 1e-3), "channel {c} {key}: {g} != truth {w}");
        }
    }
    let (expect, planes) = fixtures::h5py_reading(&[&path]).remove(0);
    check_meta(&path, meta, &expect);
    check_pixels(&path, src.as_ref(), &expect, &planes);
    conformance::bands_concatenate_to_plane(src.as_ref()).unwrap();
    assert_eq!(
        src.natural_rows(),
        64,
        "rows per chunk of the sample (chunks 8x64x64)"
    );
}

#[test]
fn real_minimal_file_matches_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("minimal.ims");
    std::fs::copy(common::real("imariswriter_Minimal_IMS_File.ims"), &path).unwrap();
    let src = scopeflow_formats::open(&path).unwrap();
    let (expect, planes) = fixtures::h5py_reading(&[&path]).remove(0);
    check_meta(&path, src.meta(), &expect);
    check_pixels(&path, src.as_ref(), &expect, &planes);
    conformance::bands_concatenate_to_plane(src.as_ref()).unwrap();
}

#[test]
fn padded_time_series_float_plane_and_storage_variants_match_h5py() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::extras(dir.path());
    // The storage variants (written with equal time stamps: no time increment) are about
    // pixels only.
    let files = [
        (dir.path().join("tczyx_u8_nm.ims"), true),
        (dir.path().join("yx_f32.ims"), true),
        (dir.path().join("shuffled.ims"), false),
        (dir.path().join("mixed.ims"), false),
        (dir.path().join("big_endian.ims"), false),
        (dir.path().join("sparse.ims"), false),
    ];
    let refs: Vec<&Path> = files.iter().map(|p| p.0.as_path()).collect();
    for ((path, meta), (expect, planes)) in files.iter().zip(fixtures::h5py_reading(&refs)) {
        let src = scopeflow_formats::open(path).unwrap();
        if *meta {
            check_meta(path, src.meta(), &expect);
        }
        check_pixels(path, src.as_ref(), &expect, &planes);
        conformance::bands_concatenate_to_plane(src.as_ref()).unwrap();
    }
}

/// LZ4 (HDF5 filter 32004, the compression of recent Imaris versions) through Debian's
/// `hdf5-filter-plugin`: the synthetic sample rewritten with LZ4 chunks reads as h5py reads
/// the gzip original.
#[test]
fn lz4_compressed_data_reads_through_the_filter_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let gzip = fixtures::synthetic(dir.path());
    let lz4 = dir.path().join("s_lz4.ims");
    fixtures::lz4_copy(&gzip, &lz4);
    let (expect, planes) = fixtures::h5py_reading(&[&gzip]).remove(0);
    let src = scopeflow_formats::open(&lz4)
        .unwrap_or_else(|e| panic!("{e} (scripts/install-deps.sh installs hdf5-filter-plugin)"));
    assert_eq!(src.meta().metadata["filters"], serde_json::json!(["lz4"]));
    check_meta(&lz4, src.meta(), &expect);
    check_pixels(&lz4, src.as_ref(), &expect, &planes);
}

fn refusal(path: &Path) -> FormatError {
    match scopeflow_formats::open(path) {
        Ok(_) => panic!("{} was opened", path.display()),
        Err(e) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            e
        }
    }
}

#[test]
fn other_hdf5_files_and_broken_layouts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    fixtures::extras(dir.path());
    let at = |name: &str| dir.path().join(name);
    let e = refusal(&at("plain.h5"));
    assert!(
        matches!(e, FormatError::UnsupportedFormat { .. })
            && e.to_string()
                .contains("HDF5 file that is not an Imaris file")
            && e.to_string().contains("`images`"),
        "{e}"
    );
    for (name, cause) in [
        (
            "lzf.ims",
            "compression `lzf` (HDF5 filter 32000) is not available",
        ),
        ("u64.ims", "pixel type uint64"),
        ("too_big.ims", "ImageSizeX = 5000"),
        (
            "missing_channel.ims",
            "TimePoint 1/Channel 1/Data is missing",
        ),
        ("two_d.ims", "has 2 dimensions"),
    ] {
        let e = refusal(&at(name));
        assert!(e.to_string().contains(cause), "{name}: {e}");
    }
    let e = match scopeflow_formats::open_series(&at("tiny.ims"), 1) {
        Ok(_) => panic!("series 1 opened"),
        Err(e) => e,
    };
    assert!(e.to_string().contains("no series 1"), "{e}");
    let src = scopeflow_formats::open(&at("tiny.ims")).unwrap();
    assert!(src.plane_reader(&[2, 0]).is_err(), "channel 2 of 2");
    let mut reader = src.plane_reader(&[0, 0]).unwrap();
    let mut buf = vec![0u8; 2 * 20 * 2];
    assert!(
        reader.read_rows(23, 25, &mut buf).is_err(),
        "rows past the end"
    );
}

#[test]
fn a_file_still_open_for_writing_is_refused_as_locked() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    fixtures::extras(dir.path());
    let path = dir.path().join("tiny.ims");
    // h5py holds HDF5's exclusive lock while the file is open for writing, as Imaris does.
    let script = "import sys, time, h5py\nf = h5py.File(sys.argv[1], 'r+')\nprint('ready', flush=True)\ntime.sleep(60)\n";
    let mut writer = std::process::Command::new(fixtures::python())
        .args(["-c", script])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(writer.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let result = scopeflow_formats::open(&path).map(|_| ());
    writer.kill().unwrap();
    writer.wait().unwrap();
    let e = result.expect_err("opened while locked");
    assert!(
        matches!(e, FormatError::Io { .. }) && e.to_string().contains("locked by another program"),
        "{e}"
    );
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    scopeflow_formats::open(&path).expect("opens once the writer is gone");
}

/// The one `Data` array of the files written below (no `DataSetInfo`: the image is the
/// stored array).
const DATA0: &str = "DataSet/ResolutionLevel 0/TimePoint 0/Channel 0/Data";

/// A file `name` in a new temporary folder, written by the h5py script `body` (numpy as `np`,
/// the path as `sys.argv[1]`).
fn h5py_ims(name: &str, body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let script = format!("import sys, h5py, numpy as np\n{body}");
    common::run_python(&[
        std::ffi::OsStr::new("-c"),
        script.as_ref(),
        path.as_os_str(),
    ]);
    (dir, path)
}

/// Every plane, read as the converters read it, equals h5py's reading.
fn reads_as_h5py(path: &Path) {
    let src = scopeflow_formats::open(path).unwrap_or_else(|e| panic!("{e}"));
    let (_, planes) = fixtures::h5py_reading(&[path]).remove(0);
    let ours = fixtures::all_planes(src.as_ref(), src.natural_rows());
    assert!(
        ours == planes,
        "{}: pixels differ from h5py",
        path.display()
    );
}

/// A user block (1,024 bytes the writer reserved before the HDF5 data): still recognised as HDF5,
/// and the pixels are where HDF5 says once the block is counted.
#[test]
fn files_with_a_user_block_read_as_h5py() {
    let (_dir, path) = h5py_ims(
        "userblock.ims",
        &format!(
            "a = np.random.default_rng(2).integers(0, 60000, size=(3, 40, 50), dtype=np.uint16)\n\
             with h5py.File(sys.argv[1], 'w', userblock_size=1024) as f:\n\
             \x20   f.create_dataset('{DATA0}', data=a, chunks=(2, 16, 16), compression='gzip')\n\
             with open(sys.argv[1], 'r+b') as f:\n\
             \x20   f.write(b'written by an acquisition program before the HDF5 data')\n"
        ),
    );
    reads_as_h5py(&path);
}

/// A shuffle filter whose stored element size (3) is not the pixel size (2): HDF5 unshuffles
/// by the stored size, leaving the bytes 3 does not divide in place.
#[test]
fn shuffle_by_another_element_size_reads_as_h5py() {
    let (_dir, path) = h5py_ims(
        "shuffle3.ims",
        &format!(
            "a = np.random.default_rng(1).integers(0, 60000, size=(3, 40, 50), dtype=np.uint16)\n\
             with h5py.File(sys.argv[1], 'w') as f:\n\
             \x20   f.create_dataset('{DATA0}', data=a, chunks=(2, 16, 16), shuffle=True, compression='gzip')\n\
             raw = bytearray(open(sys.argv[1], 'rb').read())\n\
             at = raw.index(b'shuffle\\0' + (2).to_bytes(4, 'little')) + 8\n\
             raw[at:at + 4] = (3).to_bytes(4, 'little')\n\
             open(sys.argv[1], 'wb').write(raw)\n"
        ),
    );
    reads_as_h5py(&path);
}

/// 12-bit pixels stored in the high bits of 16 (HDF5 precision 12, offset 4): HDF5 shifts
/// them down on reading, the stored bytes are not the pixels.
#[test]
fn pixels_with_a_bit_offset_read_as_h5py() {
    let (_dir, path) = h5py_ims(
        "offset4.ims",
        &format!(
            "a = np.random.default_rng(1).integers(0, 4096, size=(3, 40, 50), dtype=np.uint16)\n\
             with h5py.File(sys.argv[1], 'w') as f:\n\
             \x20   g = f.create_group('{}')\n\
             \x20   t = h5py.h5t.STD_U16LE.copy()\n\
             \x20   t.set_precision(12)\n\
             \x20   t.set_offset(4)\n\
             \x20   dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)\n\
             \x20   dcpl.set_chunk((2, 16, 16))\n\
             \x20   dcpl.set_deflate(4)\n\
             \x20   d = h5py.h5d.create(g.id, b'Data', t, h5py.h5s.create_simple(a.shape), dcpl=dcpl)\n\
             \x20   d.write(h5py.h5s.ALL, h5py.h5s.ALL, a)\n",
            DATA0.trim_end_matches("/Data")
        ),
    );
    reads_as_h5py(&path);
}

/// Partial edge chunks stored without the filters (HDF5's `DONT_FILTER_PARTIAL_CHUNKS`,
/// written here with the hdf5 crate: h5py cannot set it): their bytes are the raw pixels.
#[test]
fn unfiltered_partial_edge_chunks_read_as_h5py() {
    use hdf5::plist::dataset_create::ChunkOpts;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw_edges.ims");
    let pixels: Vec<u16> = (0..3 * 40 * 50u32)
        .map(|i| (i * 7919 % 65521) as u16)
        .collect();
    let file = hdf5::File::with_options()
        .with_fapl(|p| p.libver_v110())
        .create(&path)
        .unwrap();
    file.new_dataset::<u16>()
        .shape([3, 40, 50])
        .chunk([2, 16, 16])
        .deflate(4)
        .chunk_opts(ChunkOpts::DONT_FILTER_PARTIAL_CHUNKS)
        .create(DATA0)
        .unwrap()
        .write_raw(&pixels)
        .unwrap();
    drop(file);
    reads_as_h5py(&path);
}

/// A chunk whose bytes lie past the end of the file (the file cut after HDF5's metadata, and
/// its superblock's end-of-file address cut to match, so that HDF5 opens it).
#[test]
fn a_chunk_past_the_end_of_the_file_is_an_error_naming_it() {
    let (_dir, path) = h5py_ims(
        "cut.ims",
        &format!(
            "a = np.random.default_rng(1).integers(0, 4096, size=(3, 40, 50), dtype=np.uint16)\n\
             with h5py.File(sys.argv[1], 'w') as f:\n\
             \x20   d = f.create_dataset('{DATA0}', data=a, chunks=(2, 16, 16), compression='gzip')\n\
             \x20   last = max((d.id.get_chunk_info(i) for i in range(d.id.get_num_chunks())), key=lambda c: c.byte_offset)\n\
             raw = bytearray(open(sys.argv[1], 'rb').read())\n\
             assert last.byte_offset + last.size == len(raw) and raw[8] == 0\n\
             end = last.byte_offset + last.size // 2\n\
             raw[40:48] = end.to_bytes(8, 'little')\n\
             open(sys.argv[1], 'wb').write(raw[:end])\n"
        ),
    );
    scopeflow_formats::open(&path).expect("HDF5 opens it: its metadata is whole");
    let Err(e) = common::read_everything(&path, usize::MAX) else {
        panic!("{} read although cut", path.display());
    };
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("past the end of the file"), "{e}");
}

/// Two planes stored as one-pixel-wide chunks (65,536 of them): HDF5 reads them (the direct
/// path would scan the whole chunk index once per chunk; `direct.rs` unit tests check that it
/// declines), with the same pixels as h5py.
#[test]
fn a_file_of_one_pixel_chunks_reads_as_h5py() {
    let (_dir, path) = h5py_ims(
        "pixel_chunks.ims",
        &format!(
            "a = np.random.default_rng(1).integers(0, 256, size=(2, 256, 256), dtype=np.uint8)\n\
             with h5py.File(sys.argv[1], 'w') as f:\n\
             \x20   f.create_dataset('{DATA0}', data=a, chunks=(2, 1, 1), compression='gzip')\n"
        ),
    );
    reads_as_h5py(&path);
}
