use std::io::Read;
use std::path::Path;

use crate::FormatError;

/// What the first bytes of a file say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Tiff {
        big: bool,
    },
    Hdf5,
    Czi,
    /// Leica LAS X: an XML header then memory blocks.
    Lif,
    /// Nikon NIS-Elements v3+ (chunk map).
    Nd2,
    /// Nikon's legacy ND2 variant, a JPEG 2000 container.
    Nd2Jpeg2000,
    Cellomics,
    Png,
    Jpeg,
    Bmp,
    Unknown,
}

impl Format {
    pub fn describe(self) -> String {
        match self {
            Format::Tiff { big: false } => "TIFF".into(),
            Format::Tiff { big: true } => "BigTIFF".into(),
            Format::Hdf5 => "HDF5/Imaris".into(),
            Format::Czi => "Zeiss CZI".into(),
            Format::Lif => "Leica LIF".into(),
            Format::Nd2 => "Nikon ND2".into(),
            Format::Nd2Jpeg2000 => {
                "Nikon ND2 of the legacy JPEG 2000 kind (not read; export to OME-TIFF from NIS-Elements)"
                    .into()
            }
            Format::Cellomics => {
                "Cellomics C01 (no Cellomics reader yet; export to OME-TIFF)".into()
            }
            Format::Png => "PNG (not a microscopy format scopeflow reads)".into(),
            Format::Jpeg => "JPEG (not a microscopy format scopeflow reads)".into(),
            Format::Bmp => "BMP (not a microscopy format scopeflow reads)".into(),
            Format::Unknown => "unknown file type (not a TIFF: no TIFF magic bytes)".into(),
        }
    }
}

/// Reads the magic bytes of `path`.
///
/// # Errors
/// The file cannot be opened or read, is a folder, or is empty.
pub fn detect(path: &Path) -> Result<Format, FormatError> {
    let meta = std::fs::metadata(path).map_err(|e| FormatError::io(path, e))?;
    if meta.is_dir() {
        return Err(FormatError::io(
            path,
            std::io::Error::other("it is a folder, not an image file"),
        ));
    }
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path).map_err(|e| FormatError::io(path, e))?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FormatError::io(path, e)),
        }
    }
    if n == 0 {
        return Err(FormatError::corrupt(path, "empty file (0 bytes)"));
    }
    match classify(&head[..n]) {
        Format::Unknown if hdf5_after_user_block(&file, meta.len()) => Ok(Format::Hdf5),
        format => Ok(format),
    }
}

/// The HDF5 file signature.
const HDF5_SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', 0x0d, 0x0a, 0x1a, 0x0a];

/// Whether the HDF5 signature sits after a user block: HDF5 looks for its superblock at byte
/// 0, 512, 1024, 2048 and every further power of two, so a file whose writer reserved space
/// at its start (a user block) is HDF5 all the same.
fn hdf5_after_user_block(file: &std::fs::File, len: u64) -> bool {
    let mut at = 512u64;
    while at.saturating_add(8) <= len {
        let mut sig = [0u8; 8];
        if crate::positional::read_exact_at(file, &mut sig, at).is_err() {
            return false;
        }
        if sig == HDF5_SIGNATURE {
            return true;
        }
        at = at.saturating_mul(2);
    }
    false
}

fn classify(head: &[u8]) -> Format {
    match head {
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Format::Tiff { big: false },
        [b'I', b'I', 43, 0, ..] | [b'M', b'M', 0, 43, ..] => Format::Tiff { big: true },
        _ if head.starts_with(&HDF5_SIGNATURE) => Format::Hdf5,
        [0x89, b'P', b'N', b'G', ..] => Format::Png,
        [0xff, 0xd8, 0xff, ..] => Format::Jpeg,
        _ if head.starts_with(b"ZISRAWFILE") => Format::Czi,
        // LIF: a 0x70 test value, the XML block's length, then 0x2A.
        [0x70, 0, 0, 0, _, _, _, _, 0x2a, ..] => Format::Lif,
        [0xda, 0xce, 0xbe, 0x0a, ..] => Format::Nd2,
        [0, 0, 0, 0x0c, b'j', b'P', b' ', b' ', ..] => Format::Nd2Jpeg2000,
        [b'B', b'M', ..] => Format::Bmp,
        // Cellomics C01: a 4-byte header then a zlib stream (0x78 = deflate, 32 KiB window).
        [0, 0, 0, 0x10, 0x78, ..] => Format::Cellomics,
        _ => Format::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide() {
        assert_eq!(classify(b"II*\0\x08\0\0\0"), Format::Tiff { big: false });
        assert_eq!(classify(b"MM\0*\0\0\0\x08"), Format::Tiff { big: false });
        assert_eq!(classify(b"II+\0\x08\0\0\0"), Format::Tiff { big: true });
        assert_eq!(classify(b"ZISRAWFILE\0\0"), Format::Czi);
        assert_eq!(classify(b"\x89HDF\r\n\x1a\n"), Format::Hdf5);
        assert_eq!(classify(b"\x70\0\0\0\x10\0\0\0\x2a"), Format::Lif);
        assert_eq!(classify(b"\xda\xce\xbe\x0a\0\0"), Format::Nd2);
        assert_eq!(classify(b"BM\x36\0"), Format::Bmp);
        assert_eq!(classify(b"hello world"), Format::Unknown);
        assert_eq!(classify(b"I"), Format::Unknown);
    }
}
