//! PNG, JPEG and BMP against imageio (Pillow), an independent decoder: metadata, every pixel,
//! per-channel statistics against the generator's truth, band reads, and damaged files.

use std::path::{Path, PathBuf};
use std::process::Command;

use scopeflow_formats::{ImageSource, conformance::bands_concatenate_to_plane};
use serde_json::Value;

mod common;
use common::python;
use common::{manifest_dir, real};

fn tools() -> PathBuf {
    std::env::var_os("SCOPEFLOW_SHARED").map_or_else(
        || manifest_dir().join("../../../shared/tools"),
        |s| PathBuf::from(s).join("tools"),
    )
}

fn run_python(script: &str, args: &[&Path]) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs (bash scripts/setup-python.sh)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every pixel as imageio decodes it, little-endian, in Y, X, S order.
fn imageio_pixels(path: &Path, out: &Path) {
    run_python(
        "import sys, numpy as np, imageio.v3 as iio\n\
         a = iio.imread(sys.argv[1])\n\
         open(sys.argv[2], 'wb').write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes())\n\
         print(a.shape, a.dtype)",
        &[path, out],
    );
}

fn whole_plane(src: &dyn ImageSource) -> Vec<u8> {
    let m = src.meta();
    let mut buf = vec![0u8; m.height() * m.width() * m.samples() * m.dtype.size()];
    src.read_rows(&[], 0, m.height(), &mut buf)
        .unwrap_or_else(|e| panic!("{e}"));
    buf
}

fn assert_same_pixels_as_imageio(path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("pixels.raw");
    let expected = PathBuf::from(format!("{}.expected", path.display()));
    if expected.exists() {
        std::fs::copy(&expected, &dump).unwrap();
    } else {
        imageio_pixels(path, &dump);
    }
    let src = scopeflow_formats::open(path).unwrap_or_else(|e| panic!("{e}"));
    let ours = whole_plane(src.as_ref());
    let theirs = std::fs::read(&dump).unwrap();
    assert_eq!(
        ours.len(),
        theirs.len(),
        "{}: pixel byte count",
        path.display()
    );
    let differing = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing,
        0,
        "{}: {differing} bytes differ from imageio",
        path.display()
    );
    bands_concatenate_to_plane(src.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn generated(keys: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(tools().join("make_format_samples.py"))
        .arg("--out")
        .arg(dir.path())
        .args(["--only", keys])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    (dir, files)
}

/// Pixel count and saturated fraction of each channel (the S index, or the whole image).
fn channel_stats(src: &dyn ImageSource) -> Vec<(f64, f64)> {
    let m = src.meta();
    let pixels = whole_plane(src);
    let s = m.samples();
    let size = m.dtype.size();
    (0..s)
        .map(|c| {
            let values: Vec<f64> = pixels
                .chunks_exact(size)
                .skip(c)
                .step_by(s)
                .map(|b| match size {
                    1 => f64::from(b[0]),
                    _ => f64::from(u16::from_le_bytes([b[0], b[1]])),
                })
                .collect();
            let top = if size == 1 { 255.0 } else { 65535.0 };
            let saturated = values.iter().filter(|&&v| v == top).count();
            (values.len() as f64, saturated as f64 / values.len() as f64)
        })
        .collect()
}

#[test]
fn generated_pngs_match_their_truth_and_imageio() {
    let (_dir, files) = generated("uv");
    assert_eq!(files.len(), 2, "{files:?}");
    for path in &files {
        let truth: Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{}.truth.json", path.display())).unwrap(),
        )
        .unwrap();
        let src = scopeflow_formats::open(path).unwrap_or_else(|e| panic!("{e}"));
        let m = src.meta();
        assert_eq!(m.format, "png");
        assert_eq!(
            scopeflow_core::axes_string(&m.axes),
            truth["axes"].as_str().unwrap()
        );
        let shape: Vec<usize> = serde_json::from_value(truth["shape"].clone()).unwrap();
        assert_eq!(m.shape, shape, "{}", path.display());
        assert_eq!(m.dtype.name(), truth["dtype"].as_str().unwrap());
        assert_eq!(m.series.len(), 1);
        let stats = channel_stats(src.as_ref());
        let channels = truth["channels"].as_array().unwrap();
        assert_eq!(stats.len(), channels.len());
        for ((count, saturation), want) in stats.iter().zip(channels) {
            let n = want["n_signal"].as_f64().unwrap() + want["n_background"].as_f64().unwrap();
            assert_eq!(*count, n, "{}", path.display());
            let s = want["saturation_fraction"].as_f64().unwrap();
            assert!(
                (saturation - s).abs() < 1e-12,
                "{}: {saturation} vs {s}",
                path.display()
            );
        }
        assert_same_pixels_as_imageio(path);
    }
}

#[test]
fn real_pngs_match_imageio() {
    for name in ["skimage_cell.png", "skimage_ihc.png"] {
        let path = real(name);
        let src = scopeflow_formats::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let axes = scopeflow_core::axes_string(&src.meta().axes);
        assert_eq!(
            axes,
            if name.contains("ihc") { "YXS" } else { "YX" },
            "{name}"
        );
        assert_same_pixels_as_imageio(&path);
    }
}

/// Writes, with Pillow, the variants the generator does not cover: BMP, JPEG, grey + alpha,
/// 16-bit RGB, a palette image, and an Adam7-interlaced PNG (packed by hand: Pillow only
/// reads interlacing).
const VARIANTS: &str = r#"
import sys, os, struct, zlib, numpy as np, imageio.v3 as iio
out = sys.argv[1]
rng = np.random.default_rng(7)
grey = rng.integers(0, 256, (37, 53), dtype=np.uint8)
rgb = rng.integers(0, 256, (41, 29, 3), dtype=np.uint8)
iio.imwrite(os.path.join(out, "grey.bmp"), grey)
iio.imwrite(os.path.join(out, "rgb.bmp"), rgb)
iio.imwrite(os.path.join(out, "rgb.jpg"), rgb, quality=90)
iio.imwrite(os.path.join(out, "grey.jpg"), grey, quality=90)
iio.imwrite(os.path.join(out, "grey_alpha.png"), rng.integers(0, 256, (23, 31, 2), dtype=np.uint8), mode="LA")
from PIL import Image
Image.fromarray(grey).convert("P", palette=Image.ADAPTIVE, colors=16).save(os.path.join(out, "palette.png"))

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
def png16(name, arr, colour, interlace):
    rows = arr.reshape(arr.shape[0], arr.shape[1], -1)
    raw = b""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    for x0, y0, dx, dy in (passes if interlace else [(0, 0, 1, 1)]):
        sub = rows[y0::dy, x0::dx]
        if sub.size:
            for row in sub:
                raw += b"\0" + row.astype(">u2").tobytes()
    ihdr = struct.pack(">IIBBBBB", arr.shape[1], arr.shape[0], 16, colour, 0, 0, 1 if interlace else 0)
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
big = rng.integers(0, 65536, (45, 61), dtype=np.uint16)
png16("interlaced16.png", big, 0, True)
rgb16 = rng.integers(0, 65536, (19, 27, 3), dtype=np.uint16)
png16("rgb16.png", rgb16, 2, False)
# Pillow reads 48-bit RGB as 8-bit: the array written is the reference for that one.
open(os.path.join(out, "rgb16.png.expected"), "wb").write(rgb16.astype("<u2").tobytes())
assert (iio.imread(os.path.join(out, "interlaced16.png")) == big).all()
"#;

#[test]
fn other_variants_match_imageio() {
    let dir = tempfile::tempdir().unwrap();
    run_python(VARIANTS, &[dir.path()]);
    let expect = [
        ("grey.bmp", "bmp", "YX"),
        ("rgb.bmp", "bmp", "YXS"),
        ("grey.jpg", "jpeg", "YX"),
        ("rgb.jpg", "jpeg", "YXS"),
        ("grey_alpha.png", "png", "YXS"),
        ("rgb16.png", "png", "YXS"),
        ("palette.png", "png", "YXS"),
        ("interlaced16.png", "png", "YX"),
    ];
    for (name, format, axes) in expect {
        let path = dir.path().join(name);
        let src = scopeflow_formats::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(src.meta().format, format, "{name}");
        assert_eq!(
            scopeflow_core::axes_string(&src.meta().axes),
            axes,
            "{name}"
        );
        assert_same_pixels_as_imageio(&path);
    }
}

#[test]
fn damaged_images_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    run_python(VARIANTS, &[dir.path()]);
    let real_png = real("skimage_cell.png");
    let mut sources: Vec<PathBuf> = ["rgb.bmp", "rgb.jpg", "rgb16.png", "interlaced16.png"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    sources.push(real_png);
    for source in sources {
        let bytes = std::fs::read(&source).unwrap();
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        for cut in [
            4,
            12,
            40,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 20,
        ] {
            let damaged = dir.path().join(format!("cut{cut}-{name}"));
            std::fs::write(&damaged, &bytes[..cut]).unwrap();
            let result = scopeflow_formats::open(&damaged).and_then(|src| {
                let m = src.meta().clone();
                let mut buf = vec![0u8; m.height() * m.width() * m.samples() * m.dtype.size()];
                src.read_rows(&[], 0, m.height(), &mut buf)
            });
            let err = result.expect_err(&format!("{name} cut at {cut} must be refused"));
            assert!(
                err.to_string().contains(&damaged.display().to_string()),
                "{err}"
            );
        }
    }
}

#[test]
fn random_corruption_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    run_python(VARIANTS, &[dir.path()]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in [
        "rgb.bmp",
        "rgb.jpg",
        "rgb16.png",
        "palette.png",
        "interlaced16.png",
    ] {
        let bytes = std::fs::read(dir.path().join(name)).unwrap();
        for round in 0..150 {
            let mut mutant = bytes.clone();
            for _ in 0..1 + next() % 8 {
                let at = (next() % mutant.len() as u64) as usize;
                mutant[at] = next() as u8;
            }
            let path = dir.path().join(format!("m{round}-{name}"));
            std::fs::write(&path, &mutant).unwrap();
            if let Ok(src) = scopeflow_formats::open(&path) {
                let m = src.meta().clone();
                if m.raw_bytes() < 64 << 20 {
                    let mut buf = vec![0u8; usize::try_from(m.raw_bytes()).unwrap()];
                    let _ = src.read_rows(&[], 0, m.height(), &mut buf);
                }
            }
            std::fs::remove_file(&path).unwrap();
        }
    }
}
