//! Helpers of the CZI tests: the venv python, the shared sample generator, pylibCZIrw as the
//! independent reader, and byte patches of the ZISRAW directory.
#![allow(dead_code)]

use std::path::Path;

pub use super::common::{run_python, tools_dir};
use scopeflow_core::Axis;
use scopeflow_formats::{ImageSource, plane_count, plane_index};

/// `make_format_samples.py --only KEYS` into `dir`.
pub fn make_samples(dir: &Path, keys: &str) {
    let tool = tools_dir().join("make_format_samples.py");
    run_python(&[
        tool.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--only",
        keys,
    ]);
}

/// Every plane of `scene` as pylibCZIrw reads it (Bgr turned into R, G, B), little-endian, in
/// the order of `planes` ((t, c, z) offsets from the file's first index); and the scene's
/// width and height as libCZI computes its bounding rectangle.
const REFERENCE: &str = r#"
import json, sys
import numpy as np
from pylibCZIrw import czi as pyczi
path, scene, out, planes = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
with pyczi.open_czi(path) as r:
    box = r.total_bounding_box
    rects = r.scenes_bounding_rectangle
    kw = {"scene": scene} if rects else {}
    with open(out, "wb") as f:
        for t, c, z in planes:
            a = r.read(plane={"T": box["T"][0] + t, "C": box["C"][0] + c, "Z": box["Z"][0] + z}, **kw)
            a = a[..., ::-1] if a.shape[-1] == 3 else a[..., 0]
            f.write(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes())
    rect = rects[scene] if rects else r.total_bounding_rectangle
    print(json.dumps([rect.w, rect.h]))
"#;

/// (t, c, z) offsets of every plane of `src`, in plane order.
pub fn plane_tcz(src: &dyn ImageSource) -> Vec<[usize; 3]> {
    let meta = src.meta();
    let axes = meta.plane_axes();
    (0..plane_count(meta))
        .map(|n| {
            let idx = plane_index(meta, n);
            let mut tcz = [0; 3];
            for (a, i) in axes.iter().zip(idx) {
                let k = match a {
                    Axis::T => 0,
                    Axis::C => 1,
                    _ => 2,
                };
                tcz[k] = i;
            }
            tcz
        })
        .collect()
}

/// Every plane of our reader, concatenated (read in bands of 37 rows through one reader).
pub fn our_planes(src: &dyn ImageSource) -> Vec<u8> {
    let meta = src.meta();
    let row = meta.width() * meta.samples() * meta.dtype.size();
    let mut all = Vec::new();
    for n in 0..plane_count(meta) {
        let plane = plane_index(meta, n);
        let mut reader = src.plane_reader(&plane).unwrap();
        let mut y = 0;
        while y < meta.height() {
            let end = (y + 37).min(meta.height());
            let mut buf = vec![0u8; (end - y) * row];
            reader.read_rows(y, end, &mut buf).unwrap();
            all.extend_from_slice(&buf);
            y = end;
        }
    }
    all
}

/// Compares every plane of series `scene` with pylibCZIrw, byte for byte.
pub fn assert_same_as_pylibczirw(path: &Path, scene: usize) {
    let src = scopeflow_formats::open_series(path, scene).unwrap();
    let planes = plane_tcz(src.as_ref());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.raw");
    let planes_json = serde_json::to_string(&planes).unwrap();
    let size = run_python(&[
        "-c",
        REFERENCE,
        path.to_str().unwrap(),
        &scene.to_string(),
        out.to_str().unwrap(),
        &planes_json,
    ]);
    let wh: Vec<usize> = serde_json::from_str(size.trim()).unwrap();
    let meta = src.meta();
    assert_eq!(
        (meta.width(), meta.height()),
        (wh[0], wh[1]),
        "{} scene {scene}: plane size",
        path.display()
    );
    let want = std::fs::read(&out).unwrap();
    let got = our_planes(src.as_ref());
    assert_eq!(got.len(), want.len(), "{} scene {scene}", path.display());
    if let Some(i) = got.iter().zip(&want).position(|(a, b)| a != b) {
        panic!(
            "{} scene {scene}: first differing byte {i} of {} (ours {}, pylibCZIrw {})",
            path.display(),
            got.len(),
            got[i],
            want[i]
        );
    }
}

/// Offsets of the ZISRAW directory and of each entry's fields, for patching test files.
pub struct DirEntry {
    pub at: usize,
    pub dims: Vec<(char, usize)>,
}

impl DirEntry {
    pub const PIXEL_TYPE: usize = 2;
    pub const FILE_POSITION: usize = 6;
    pub const COMPRESSION: usize = 18;
    /// Offset of dimension `letter`'s field at `field` (4 = start, 8 = size, 16 = stored size).
    pub fn dim_field(&self, letter: char, field: usize) -> usize {
        let (_, at) = self.dims.iter().find(|(l, _)| *l == letter).unwrap();
        at + field
    }
}

fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

pub fn directory_position(bytes: &[u8]) -> usize {
    i64::from_le_bytes(bytes[84..92].try_into().unwrap()) as usize
}

/// The directory entries of a well-formed file (test files only).
pub fn directory_entries(bytes: &[u8]) -> Vec<DirEntry> {
    let dir = directory_position(bytes);
    assert_eq!(&bytes[dir..dir + 15], b"ZISRAWDIRECTORY");
    let count = le_i32(bytes, dir + 32) as usize;
    let mut at = dir + 32 + 128;
    (0..count)
        .map(|_| {
            let n = le_i32(bytes, at + 28) as usize;
            let dims = (0..n)
                .map(|i| {
                    let d = at + 32 + 20 * i;
                    (char::from(bytes[d]), d)
                })
                .collect();
            let e = DirEntry { at, dims };
            at += 32 + 20 * n;
            e
        })
        .collect()
}

pub fn put_i32(bytes: &mut [u8], at: usize, v: i32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Opens every series and reads every plane; the first error, if any. Never panics on
/// well-behaved readers, whatever the bytes.
pub fn read_everything(path: &Path) -> Result<(), scopeflow_formats::FormatError> {
    let first = scopeflow_formats::open(path)?;
    let count = first.meta().series.len();
    for s in 0..count {
        let src = scopeflow_formats::open_series(path, s)?;
        let meta = src.meta();
        let row = meta.width() * meta.samples() * meta.dtype.size();
        if row > 1 << 24 {
            // A damaged size made a huge row: opening it without a panic is what counts.
            continue;
        }
        if meta.raw_bytes() > 1 << 28 {
            // A huge plane: its first row is enough to meet the damage.
            let mut buf = vec![0u8; row];
            src.plane_reader(&plane_index(meta, 0))?
                .read_rows(0, 1, &mut buf)?;
            continue;
        }
        for n in 0..plane_count(meta) {
            let mut reader = src.plane_reader(&plane_index(meta, n))?;
            let band = src.natural_rows().max(1);
            let mut y = 0;
            while y < meta.height() {
                let end = (y + band).min(meta.height());
                let mut buf = vec![0u8; (end - y) * row];
                reader.read_rows(y, end, &mut buf)?;
                y = end;
            }
        }
    }
    Ok(())
}
