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

/// The shared folder (`$SCOPEFLOW_SHARED`, else `../shared` beside the repository).
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("SCOPEFLOW_SHARED")
        .map_or_else(|| manifest_dir().join("../../../shared"), PathBuf::from);
    assert!(
        dir.join("tools").exists(),
        "{} has no tools/: set SCOPEFLOW_SHARED",
        dir.display()
    );
    dir
}

pub fn tools_dir() -> PathBuf {
    shared_dir().join("tools")
}

/// Runs python with `args`; panics with its output when it fails. Returns stdout.
pub fn run_python<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> String {
    let out = std::process::Command::new(python())
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads every plane of every series of `path` in bands of `band` rows, as the converter
/// does; the first error, as text. A (mutated) header claiming more than 64 MiB is opened
/// but not read: reading it all would prove nothing more.
pub fn read_everything(path: &std::path::Path, band: usize) -> Result<(), String> {
    use scopeflow_formats::{open_series, plane_count, plane_index};
    let first = open_series(path, 0).map_err(|e| e.to_string())?;
    for s in 0..first.meta().series.len().max(1) {
        let src = open_series(path, s).map_err(|e| e.to_string())?;
        let m = src.meta();
        if m.raw_bytes() > 64 << 20 {
            continue;
        }
        let row = m.width() * m.samples() * m.dtype.size();
        for p in 0..plane_count(m) {
            let mut reader = src
                .plane_reader(&plane_index(m, p))
                .map_err(|e| e.to_string())?;
            let mut y = 0;
            while y < m.height() {
                let end = y.saturating_add(band.max(1)).min(m.height());
                let mut buf = vec![0u8; (end - y) * row];
                reader
                    .read_rows(y, end, &mut buf)
                    .map_err(|e| e.to_string())?;
                y = end;
            }
        }
    }
    Ok(())
}
