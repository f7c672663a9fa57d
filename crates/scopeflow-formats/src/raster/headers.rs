//! What the decoders do not say: whether a JPEG is complete, whether a BMP palette is grey.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::FormatError;

/// A JPEG cut short still decodes (the missing scan comes out grey, as in image viewers),
/// so a copy interrupted mid-transfer would convert silently: its end-of-image marker is
/// required instead. Trailing zero padding, which some cameras add, is allowed.
pub(super) fn check_jpeg_end(path: &Path) -> Result<(), FormatError> {
    let mut file = std::fs::File::open(path).map_err(|e| FormatError::io(path, e))?;
    let len = file.metadata().map_err(|e| FormatError::io(path, e))?.len();
    let tail_len = len.min(4096);
    file.seek(SeekFrom::Start(len - tail_len))
        .map_err(|e| FormatError::io(path, e))?;
    let mut tail = Vec::new();
    file.take(tail_len)
        .read_to_end(&mut tail)
        .map_err(|e| FormatError::io(path, e))?;
    let end = tail.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end < 2 || tail[end - 2..end] != [0xff, 0xd9] {
        return Err(FormatError::corrupt(
            path,
            "JPEG has no end-of-image marker (FF D9): the file is truncated",
        ));
    }
    Ok(())
}

/// True when an 8-bit-or-less BMP's colour table holds only greys (B = G = R).
pub(super) fn bmp_grey_palette(path: &Path) -> Result<bool, FormatError> {
    let mut file = std::fs::File::open(path).map_err(|e| FormatError::io(path, e))?;
    let mut head = [0u8; 54];
    if file.read_exact(&mut head).is_err() {
        return Ok(false);
    }
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let dib = u64::from(u32_at(14));
    let bits = u16::from_le_bytes([head[28], head[29]]);
    if bits == 0 || bits > 8 || dib < 40 {
        return Ok(false);
    }
    let used = u64::from(u32_at(46));
    let entries = if used == 0 || used > 256 {
        1u64 << bits
    } else {
        used
    };
    let mut table = vec![0u8; usize::try_from(entries * 4).unwrap_or(1024)];
    file.seek(SeekFrom::Start(14 + dib))
        .map_err(|e| FormatError::io(path, e))?;
    if file.read_exact(&mut table).is_err() {
        return Ok(false);
    }
    Ok(table.chunks_exact(4).all(|c| c[0] == c[1] && c[1] == c[2]))
}
