//! Every real sample must pass the `ImageSource` conformance checks, and the files scopeflow
//! cannot read must be refused with a reason that names them.

use std::path::PathBuf;

mod common;
use common::real_dir;

fn real_tiffs() -> Vec<PathBuf> {
    let dir = real_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set SCOPEFLOW_REAL_SAMPLES)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.with_file_name(format!(
                "{}.truth.json",
                p.file_name().unwrap().to_string_lossy()
            ))
            .exists()
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the real samples in {}",
        dir.display()
    );
    files
}

#[test]
fn bands_concatenate_for_every_real_sample() {
    for f in real_tiffs() {
        let src = scopeflow_formats::open(&f).unwrap_or_else(|e| panic!("{e}"));
        scopeflow_formats::conformance::bands_concatenate_to_plane(src.as_ref())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

#[test]
fn proprietary_formats_are_refused_by_name() {
    let name = "cellprofiler_iamac01file.c01";
    let err = scopeflow_formats::open(&real_dir().join(name))
        .err()
        .expect("must be refused")
        .to_string();
    assert!(
        err.contains(name) && err.contains("Cellomics") && err.contains("unsupported format"),
        "{err}"
    );
}

/// The Zeiss CZI is read (its pixels are checked against pylibCZIrw in `tests/czi.rs`).
#[test]
fn real_czi_is_read() {
    let path = real_dir().join("aics_s_1_t_1_c_1_z_1.czi");
    let src = scopeflow_formats::open(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(src.meta().format, "czi");
    assert_eq!(src.meta().shape, vec![325, 475]);
    scopeflow_formats::conformance::bands_concatenate_to_plane(src.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
