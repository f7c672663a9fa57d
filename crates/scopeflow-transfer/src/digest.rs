use std::fmt;
use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::TransferError;

/// Big files are streamed in blocks of this size, so memory stays bounded whatever the file size.
pub(crate) const BLOCK: usize = 1 << 20;

/// A sha256, the checksum every copy, receipt and manifest line is judged by.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Lower-case hex, as `sha256sum` prints it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Accepts upper or lower case; anything but 64 hex digits is `Invalid`.
    pub fn from_hex(s: &str) -> Result<Digest, TransferError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| TransferError::invalid(s, format!("not a sha256 in hex: {e}")))?;
        Ok(Digest(out))
    }

    pub(crate) fn of(hasher: Sha256) -> Digest {
        Digest(hasher.finalize().into())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// The sha256 and size of a file, read in 1 MiB blocks on a blocking thread so neither memory
/// nor the async runtime suffer on multi-gigabyte raw files.
pub async fn sha256_file(path: &Path) -> io::Result<(Digest, u64)> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut file = File::open(&path)?;
        let size = file.metadata()?.len();
        hash_reader(&mut file, size)
    })
    .await
    .map_err(io::Error::other)?
}

/// Fills `buf` as far as the reader allows, so every block written elsewhere is a whole 1 MiB.
pub(crate) fn read_block(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// `size_hint` (the expected length) only sizes the buffer: hashing the 100 000 small chunks of
/// an OME-Zarr should not zero a whole 1 MiB block for each.
pub(crate) fn hash_reader(r: &mut impl Read, size_hint: u64) -> io::Result<(Digest, u64)> {
    let mut hasher = Sha256::new();
    let len = usize::try_from(size_hint)
        .unwrap_or(BLOCK)
        .clamp(8 * 1024, BLOCK);
    let mut buf = vec![0u8; len];
    let mut total = 0u64;
    loop {
        let n = read_block(r, &mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((Digest::of(hasher), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hex_round_trip() {
        let d = Digest::from_hex(ABC).unwrap();
        assert_eq!(d.to_hex(), ABC);
        assert_eq!(Digest::from_hex(&ABC.to_uppercase()).unwrap(), d);
        assert!(Digest::from_hex(&ABC[1..]).is_err());
        assert!(Digest::from_hex(&ABC.replace('b', "g")).is_err());
    }

    #[tokio::test]
    async fn hashes_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        let (d, n) = sha256_file(&p).await.unwrap();
        assert_eq!((d.to_hex().as_str(), n), (ABC, 3));
    }

    #[test]
    fn hashes_across_blocks() {
        let data: Vec<u8> = (0..(BLOCK * 2 + 7)).map(|i| (i % 251) as u8).collect();
        let (d, n) = hash_reader(&mut &data[..], 10).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Digest(Sha256::digest(&data).into()));
    }
}
