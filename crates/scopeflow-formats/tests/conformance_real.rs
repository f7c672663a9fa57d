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
    for (name, word) in [
        ("aics_s_1_t_1_c_1_z_1.czi", "CZI"),
        ("cellprofiler_iamac01file.c01", "Cellomics"),
    ] {
        let err = scopeflow_formats::open(&real_dir().join(name))
            .err()
            .expect("must be refused")
            .to_string();
        assert!(
            err.contains(name) && err.contains(word) && err.contains("unsupported format"),
            "{err}"
        );
    }
}
