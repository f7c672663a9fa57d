//! Where the real samples are, found at run time: a test binary reused from a shared target
//! folder must not carry the path of the checkout that compiled it.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// `shared/samples/real` beside the workspace, or `$SCOPEFLOW_REAL_SAMPLES`.
pub fn real_dir() -> PathBuf {
    std::env::var_os("SCOPEFLOW_REAL_SAMPLES").map_or_else(
        || manifest_dir().join("../../../shared/samples/real"),
        PathBuf::from,
    )
}

pub fn real(name: &str) -> PathBuf {
    let path = real_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing (set SCOPEFLOW_REAL_SAMPLES)",
        path.display()
    );
    path
}

/// `$SCOPEFLOW_PYTHON`, else the venv `scripts/setup-python.sh` makes: the independent
/// Python readers every format test compares with.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SCOPEFLOW_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .expect("HOME is not set: set SCOPEFLOW_PYTHON to the venv's python");
    let venv = PathBuf::from(home).join(".cache/scopeflow/venv");
    let py = if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    };
    assert!(
        py.exists(),
        "{} is missing: run `bash scripts/setup-python.sh` or set SCOPEFLOW_PYTHON",
        py.display()
    );
    py
}
