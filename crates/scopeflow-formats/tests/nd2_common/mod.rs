//! ND2 test helpers: the `nd2` Python package as the independent reference, the variant
//! writer, and whole-plane reads through our reader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "../common/mod.rs"]
pub mod common;
pub use common::python;
pub use common::{manifest_dir, real};

pub const REAL: [&str; 5] = [
    "arcadia_example-cerevisiae.nd2",
    "arcadia_example-multichannel.nd2",
    "arcadia_example-pbmc.nd2",
    "arcadia_example-timelapse.nd2",
    "arcadia_example-zstack.nd2",
];

fn run_python(script: &str, args: &[&Path]) {
    let out = Command::new(python())
        .arg(manifest_dir().join("tests").join(script))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the nd2 package reads: its summary and every plane in P T C Z Y X S order.
pub struct Reference {
    pub json: Value,
    pub pixels: Vec<u8>,
}

impl Reference {
    /// Shape in P T C Z Y X S order.
    pub fn shape(&self) -> Vec<usize> {
        self.json["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    }

    pub fn sizes(&self) -> Vec<(String, usize)> {
        self.json["sizes"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap() as usize))
            .collect()
    }

    /// The bytes of plane (p, t, c, z).
    pub fn plane(&self, p: usize, t: usize, c: usize, z: usize) -> &[u8] {
        let s = self.shape();
        let item = match self.json["dtype"].as_str().unwrap() {
            "uint8" => 1,
            "uint16" => 2,
            _ => 4,
        };
        let plane = s[4] * s[5] * s[6] * item;
        let index = ((p * s[1] + t) * s[2] + c) * s[3] + z;
        &self.pixels[index * plane..(index + 1) * plane]
    }
}

pub fn reference(path: &Path) -> Reference {
    let dir = tempfile::tempdir().unwrap();
    run_python("nd2_reference.py", &[path, dir.path()]);
    let json = serde_json::from_slice(&std::fs::read(dir.path().join("ref.json")).unwrap())
        .expect("ref.json");
    let pixels = std::fs::read(dir.path().join("pixels.bin")).unwrap();
    Reference { json, pixels }
}

/// Writes a variant of `src` (`kinds`: see `nd2_variants.py`) into `dir`.
pub fn variant(src: &Path, kinds: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{}.nd2", kinds.replace(',', "_")));
    run_python("nd2_variants.py", &[src, &out, Path::new(kinds)]);
    out
}

/// Our reader's whole plane.
pub fn read_plane(src: &dyn scopeflow_formats::ImageSource, plane: &[usize]) -> Vec<u8> {
    let m = src.meta();
    let mut buf = vec![0u8; m.height() * m.width() * m.samples() * m.dtype.size()];
    src.read_rows(plane, 0, m.height(), &mut buf)
        .unwrap_or_else(|e| panic!("{e}"));
    buf
}
