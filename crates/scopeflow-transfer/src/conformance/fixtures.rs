//! Files the checks send, and the manifest check they end with.

use std::fs::{self, File};
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::digest::{BLOCK, hash_reader};
use crate::{Digest, MANIFEST};

/// Runs fixture I/O off the async threads; a failure here is the test machine's, so it panics.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("fixture task panicked")
        .unwrap_or_else(|e| panic!("preparing the suite's files failed: {e}"))
}

/// A file of `size` pseudo-random bytes (different for each `seed`), written block by block so
/// big fixtures need no big buffer.
pub(super) fn write_file(path: &Path, size: usize, seed: u64) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut out = BufWriter::new(File::create(path)?);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut block = vec![0u8; BLOCK.min(size)];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        for chunk in block[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        out.write_all(&block[..n])?;
        left -= n;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// A folder shaped like an OME-Zarr with two levels: nested chunk folders, 150 small files of
/// assorted sizes, one empty and one just over a block. Returns the files' sub-paths, sorted.
pub(super) fn write_zarr_like(dir: &Path, seed: u64) -> io::Result<Vec<String>> {
    let mut files = vec![
        "zarr.json".to_owned(),
        "0/zarr.json".to_owned(),
        "1/zarr.json".to_owned(),
    ];
    for (level, (t, y, x)) in [(4, 6, 5), (2, 3, 3)].into_iter().enumerate() {
        for a in 0..t {
            for b in 0..y {
                for c in 0..x {
                    files.push(format!("{level}/c/{a}/{b}/{c}"));
                }
            }
        }
    }
    for (i, sub) in files.iter().enumerate() {
        let size = match i {
            3 => 0,
            4 => BLOCK + 1,
            _ => 100 + (i * 37) % 4000,
        };
        let mut path = dir.to_path_buf();
        path.extend(sub.split('/'));
        write_file(&path, size, seed.wrapping_add(i as u64))?;
    }
    files.sort();
    Ok(files)
}

/// Checks the manifest with the real `sha256sum -c` where it is installed, else line by line
/// the way it would: strictly formatted lines, every listed file present with that sha256.
pub(super) fn check_manifest(root: &Path) -> Result<(), String> {
    match Command::new("sha256sum")
        .args(["--strict", "--quiet", "-c", MANIFEST])
        .current_dir(root)
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`sha256sum --strict -c {MANIFEST}` failed in {}:\n{}{}",
            root.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => check_manifest_in_rust(root),
        Err(e) => Err(format!("cannot run sha256sum: {e}")),
    }
}

fn check_manifest_in_rust(root: &Path) -> Result<(), String> {
    let text = fs::read_to_string(root.join(MANIFEST))
        .map_err(|e| format!("cannot read {MANIFEST}: {e}"))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(format!("{MANIFEST} ends with a partial line"));
    }
    for line in text.lines() {
        let (hex, path) = line
            .split_once("  ")
            .ok_or_else(|| format!("improperly formatted line {line:?}"))?;
        let want = Digest::from_hex(hex).map_err(|e| format!("line {line:?}: {e}"))?;
        let mut file_path = PathBuf::from(root);
        file_path.extend(path.split('/'));
        let (got, _) = File::open(&file_path)
            .and_then(|mut f| hash_reader(&mut f, BLOCK as u64))
            .map_err(|e| format!("{path}: FAILED open or read: {e}"))?;
        if got != want {
            return Err(format!("{path}: FAILED (sha256 {got}, listed {want})"));
        }
    }
    Ok(())
}
