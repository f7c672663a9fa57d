//! Helpers of the LIF tests: python, the shared tools, samples generated once per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use super::common::{manifest_dir, run_python, shared_dir};
use scopeflow_formats::{ImageSource, plane_count, plane_index};

fn reference_script() -> PathBuf {
    manifest_dir().join("tests/fixtures/lif_reference.py")
}

/// A folder kept for the whole test binary: the synthetic samples are made once.
fn work_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"))
        .path()
}

/// `w_lif_2series.lif` from `make_format_samples.py`, with its truth beside it.
pub fn sample_w() -> PathBuf {
    static W: OnceLock<PathBuf> = OnceLock::new();
    W.get_or_init(|| {
        let out = work_dir().join("w");
        let tool = shared_dir().join("tools/make_format_samples.py");
        run_python(&[
            tool.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--only".as_ref(),
            "w".as_ref(),
        ]);
        out.join("w_lif_2series.lif")
    })
    .clone()
}

/// `mosaic.lif` and `rgb.lif` (+ `rgb.lif.raw`), written by the reference script.
pub fn made() -> PathBuf {
    static M: OnceLock<PathBuf> = OnceLock::new();
    M.get_or_init(|| {
        let out = work_dir().join("made");
        run_python(&[
            reference_script().as_os_str(),
            "make".as_ref(),
            out.as_os_str(),
        ]);
        out
    })
    .clone()
}

/// What readlif reads from `lif`: per series, its description and every plane's bytes.
pub struct Reference {
    pub series: Vec<serde_json::Value>,
    dir: PathBuf,
}

impl Reference {
    pub fn of(lif: &Path, tag: &str) -> Reference {
        let dir = work_dir().join(format!("ref-{tag}"));
        run_python(&[
            reference_script().as_os_str(),
            "planes".as_ref(),
            lif.as_os_str(),
            dir.as_os_str(),
        ]);
        let index = std::fs::read_to_string(dir.join("index.json")).expect("index.json");
        let series: Vec<serde_json::Value> = serde_json::from_str(&index).expect("json");
        Reference { series, dir }
    }

    pub fn pixels(&self, series: usize) -> Vec<u8> {
        std::fs::read(self.dir.join(format!("{series}.raw"))).expect("raw planes")
    }
}

/// Every plane of `src`, read in bands of `band` rows, concatenated in plane order.
pub fn all_planes(src: &dyn ImageSource, band: usize) -> Vec<u8> {
    let meta = src.meta();
    let row = meta.width() * meta.samples() * meta.dtype.size();
    let h = meta.height();
    let mut all = Vec::new();
    for p in 0..plane_count(meta) {
        let plane = plane_index(meta, p);
        let mut reader = src.plane_reader(&plane).expect("plane reader");
        let mut y = 0;
        while y < h {
            let end = (y + band).min(h);
            let mut buf = vec![0u8; (end - y) * row];
            reader.read_rows(y, end, &mut buf).expect("rows");
            all.extend_from_slice(&buf);
            y = end;
        }
    }
    all
}
