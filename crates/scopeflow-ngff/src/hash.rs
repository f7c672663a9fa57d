//! SHA-256 of the raw file, read sequentially on its own thread while the conversion reads
//! bands: the second read comes from the page cache, and hashing overlaps compression.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

pub(crate) struct Hasher {
    handle: JoinHandle<std::io::Result<(String, u64)>>,
    path: PathBuf,
}

impl Hasher {
    pub(crate) fn start(path: &Path) -> Self {
        let p = path.to_path_buf();
        let handle = std::thread::spawn(move || sha256_file(&p));
        Hasher {
            handle,
            path: path.to_path_buf(),
        }
    }

    /// Hex digest and size in bytes.
    pub(crate) fn finish(self) -> std::io::Result<(String, u64)> {
        self.handle.join().unwrap_or_else(|_| {
            Err(std::io::Error::other(format!(
                "{}: hashing thread failed",
                self.path.display()
            )))
        })
    }
}

/// Hex SHA-256 and length of a file.
///
/// # Errors
/// The file cannot be read.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(h.finalize()), total))
}
