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
