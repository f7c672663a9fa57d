//! Imaris test inputs: the synthetic sample of `make_format_samples.py`, the extra files of
//! `imaris_fixtures.py` (h5py) and their independent reading by h5py (`F.expect.json`,
//! `F.planes`). Included by `tests/imaris*.rs` with `#[path]`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use scopeflow_formats::ImageSource;
use serde_json::Value;

use super::common;
pub use super::common::python;

/// `shared/tools` (`$SCOPEFLOW_SHARED/tools`, else beside the real samples).
pub fn tools() -> PathBuf {
    let dir = std::env::var_os("SCOPEFLOW_SHARED")
        .map_or_else(|| common::real_dir().join("../.."), PathBuf::from)
        .join("tools");
    assert!(
        dir.join("make_format_samples.py").is_file(),
        "{} has no make_format_samples.py (set SCOPEFLOW_SHARED)",
        dir.display()
    );
    dir
}

fn fixtures_script() -> PathBuf {
    common::manifest_dir().join("tests/common/imaris_fixtures.py")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("python runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes the synthetic sample `s` into `dir`; returns its path.
pub fn synthetic(dir: &Path) -> PathBuf {
    run(Command::new(python())
        .arg(tools().join("make_format_samples.py"))
        .arg("--out")
        .arg(dir)
        .args(["--only", "s"]));
    dir.join("s_ims_czyx_u16.ims")
}

/// Writes the extra files of `imaris_fixtures.py write` into `dir`.
pub fn extras(dir: &Path) {
    run(Command::new(python())
        .arg(fixtures_script())
        .arg(dir)
        .arg(tools())
        .arg("write"));
}

/// `dst`: a copy of `src` with every `Data` LZ4-compressed (HDF5 filter 32004).
pub fn lz4_copy(src: &Path, dst: &Path) {
    run(Command::new(python())
        .arg(fixtures_script())
        .arg(dst.parent().expect("folder"))
        .arg(tools())
        .arg("lz4")
        .arg(src)
        .arg(dst));
}

/// What h5py reads from `files`: one `(expect.json, planes bytes)` per file.
pub fn h5py_reading(files: &[&Path]) -> Vec<(Value, Vec<u8>)> {
    let dir = files[0].parent().expect("file in a folder");
    run(Command::new(python())
        .arg(fixtures_script())
        .arg(dir)
        .arg(tools())
        .arg("dump")
        .args(files));
    files
        .iter()
        .map(|f| {
            let with = |ext: &str| PathBuf::from(format!("{}{ext}", f.display()));
            let expect = std::fs::read(with(".expect.json")).expect("expect.json written");
            let planes = std::fs::read(with(".planes")).expect("planes written");
            (serde_json::from_slice(&expect).expect("json"), planes)
        })
        .collect()
}

/// Every plane of `src` (in `plane_index` order), each read top to bottom in bands of
/// `band` rows through one reader.
pub fn all_planes(src: &dyn ImageSource, band: usize) -> Vec<u8> {
    let meta = src.meta();
    let row = meta.width() * meta.samples() * meta.dtype.size();
    let h = meta.height();
    let mut out = Vec::new();
    for n in 0..scopeflow_formats::plane_count(meta) {
        let plane = scopeflow_formats::plane_index(meta, n);
        let mut reader = src.plane_reader(&plane).expect("plane reader");
        let mut y = 0;
        while y < h {
            let end = (y + band).min(h);
            let mut buf = vec![0u8; (end - y) * row];
            reader.read_rows(y, end, &mut buf).expect("rows read");
            out.extend_from_slice(&buf);
            y = end;
        }
    }
    out
}
