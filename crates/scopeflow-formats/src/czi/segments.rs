//! The ZISRAW container: segment headers, the file header, the subblock directory and the
//! layout of one subblock segment.
//!
//! Layout as documented for libCZI ("ZISRAW file format"): every segment starts with a 32-byte
//! header (16-byte ASCII id, allocated size, used size), little-endian throughout. Offsets and
//! counts come from the file, so every one is checked against the file length before use.

use std::fs::File;
use std::path::Path;

use crate::FormatError;
use crate::positional::read_exact_at;

pub(crate) const SEGMENT_HEADER: u64 = 32;
/// A directory entry without its dimension entries.
const ENTRY_FIXED: usize = 32;
const DIM_ENTRY: usize = 20;
/// More dimension entries than the format has letters means a corrupt count.
const MAX_DIMS: usize = 32;
/// ZEN's metadata is kilobytes to a few megabytes; beyond this it is not read.
const MAX_XML: u64 = 64 << 20;

/// One dimension of a subblock: `start` is an index (T, C, Z, S, M, …) or a pixel position
/// (X, Y; may be negative or large: it is a stage coordinate in pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dim {
    pub name: [u8; 4],
    pub start: i32,
    pub size: i32,
    pub stored_size: i32,
}

impl Dim {
    pub fn letter(&self) -> char {
        char::from(self.name[0])
    }
}

/// A `DirectoryEntryDV`: what the directory (and each subblock header) says of one subblock.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub pixel_type: i32,
    pub file_position: u64,
    pub compression: i32,
    pub pyramid_type: u8,
    pub dims: Vec<Dim>,
}

impl Entry {
    pub fn dim(&self, letter: char) -> Option<&Dim> {
        self.dims.iter().find(|d| d.letter() == letter)
    }

    /// Bytes this entry occupies on disk.
    pub fn encoded_len(&self) -> usize {
        ENTRY_FIXED + DIM_ENTRY * self.dims.len()
    }
}

/// Reads `len` bytes at `offset`, refusing ranges past the end of the file before allocating.
pub(crate) fn read_at(
    file: &File,
    path: &Path,
    file_len: u64,
    offset: u64,
    len: u64,
    what: &str,
) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::new();
    read_into(file, path, file_len, offset, len, what, &mut buf)?;
    Ok(buf)
}

/// [`read_at`] into `buf`, which a caller reading many subblocks reuses: only its growth is
/// allocated and zero-filled.
pub(crate) fn read_into(
    file: &File,
    path: &Path,
    file_len: u64,
    offset: u64,
    len: u64,
    what: &str,
    buf: &mut Vec<u8>,
) -> Result<(), FormatError> {
    let end = offset.checked_add(len);
    if end.is_none_or(|e| e > file_len) {
        return Err(FormatError::corrupt(
            path,
            format!(
                "{what} at offset {offset} ({len} bytes) runs past the end of the file ({file_len} bytes)"
            ),
        ));
    }
    let n = usize::try_from(len)
        .map_err(|_| FormatError::corrupt(path, format!("{what} is too large")))?;
    crate::resize_zeroed(buf, path, &[n], what)?;
    read_exact_at(file, buf, offset).map_err(|e| FormatError::io(path, e))
}

fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le_i64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Reads a segment header at `offset` and checks its id; returns the used (else allocated)
/// size of its data.
pub(crate) fn segment(
    file: &File,
    path: &Path,
    file_len: u64,
    offset: u64,
    id: &str,
) -> Result<u64, FormatError> {
    let head = read_at(file, path, file_len, offset, SEGMENT_HEADER, id)?;
    let name_end = head[..16].iter().position(|&b| b == 0).unwrap_or(16);
    let name = String::from_utf8_lossy(&head[..name_end]);
    if name != id {
        return Err(FormatError::corrupt(
            path,
            format!("expected a {id} segment at offset {offset}, found {name:?}"),
        ));
    }
    let allocated = le_i64(&head, 16).unwrap_or(-1);
    let used = le_i64(&head, 24).unwrap_or(-1);
    let size = if used > 0 { used } else { allocated };
    u64::try_from(size).map_err(|_| {
        FormatError::corrupt(
            path,
            format!("{id} segment at offset {offset} has a negative size"),
        )
    })
}

/// Positions the file header points to.
pub(crate) struct FileHeader {
    pub directory_position: u64,
    pub metadata_position: u64,
}

pub(crate) fn file_header(
    file: &File,
    path: &Path,
    file_len: u64,
) -> Result<FileHeader, FormatError> {
    segment(file, path, file_len, 0, "ZISRAWFILE")?;
    let data = read_at(
        file,
        path,
        file_len,
        SEGMENT_HEADER,
        80,
        "ZISRAWFILE header",
    )?;
    let pos = |at: usize, what: &str| -> Result<u64, FormatError> {
        let v = le_i64(&data, at).unwrap_or(-1);
        u64::try_from(v)
            .map_err(|_| FormatError::corrupt(path, format!("negative {what} position {v}")))
    };
    // Major, minor, 2 reserved (16), primary GUID, file GUID (32), file part (4).
    Ok(FileHeader {
        directory_position: pos(52, "directory")?,
        metadata_position: pos(60, "metadata")?,
    })
}

/// Parses one entry at the start of `b`; `None` when `b` is too short.
pub(crate) fn parse_entry(b: &[u8]) -> Result<Option<Entry>, String> {
    if b.len() < ENTRY_FIXED {
        return Ok(None);
    }
    if &b[..2] != b"DV" {
        return Err(format!(
            "directory entry schema {:?} is not DV",
            String::from_utf8_lossy(&b[..2])
        ));
    }
    let pixel_type = le_i32(b, 2).unwrap_or(-1);
    let file_position = u64::try_from(le_i64(b, 6).unwrap_or(-1))
        .map_err(|_| "subblock with a negative file position".to_string())?;
    let compression = le_i32(b, 18).unwrap_or(-1);
    let pyramid_type = b[22];
    let count = usize::try_from(le_i32(b, 28).unwrap_or(-1))
        .ok()
        .filter(|&n| n <= MAX_DIMS)
        .ok_or_else(|| {
            format!(
                "directory entry with {} dimensions",
                le_i32(b, 28).unwrap_or(-1)
            )
        })?;
    if b.len() < ENTRY_FIXED + DIM_ENTRY * count {
        return Ok(None);
    }
    let mut dims = Vec::with_capacity(count);
    for i in 0..count {
        let at = ENTRY_FIXED + DIM_ENTRY * i;
        let mut name = [0u8; 4];
        name.copy_from_slice(&b[at..at + 4]);
        dims.push(Dim {
            name,
            start: le_i32(b, at + 4).unwrap_or(0),
            size: le_i32(b, at + 8).unwrap_or(0),
            stored_size: le_i32(b, at + 16).unwrap_or(0),
        });
    }
    Ok(Some(Entry {
        pixel_type,
        file_position,
        compression,
        pyramid_type,
        dims,
    }))
}

/// Every entry of the ZISRAWDIRECTORY segment at `offset`.
pub(crate) fn directory(
    file: &File,
    path: &Path,
    file_len: u64,
    offset: u64,
) -> Result<Vec<Entry>, FormatError> {
    let size = segment(file, path, file_len, offset, "ZISRAWDIRECTORY")?;
    let data = read_at(
        file,
        path,
        file_len,
        offset + SEGMENT_HEADER,
        size,
        "subblock directory",
    )?;
    let count = le_i32(&data, 0)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            FormatError::corrupt(path, "subblock directory has a negative entry count")
        })?;
    // Each entry takes at least ENTRY_FIXED bytes: a count beyond that is corrupt.
    if count > data.len() / ENTRY_FIXED {
        return Err(FormatError::corrupt(
            path,
            format!(
                "subblock directory claims {count} entries in {} bytes",
                data.len()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(count);
    let mut at = 128;
    for i in 0..count {
        let rest = data.get(at..).unwrap_or_default();
        let entry = parse_entry(rest)
            .map_err(|e| FormatError::corrupt(path, format!("subblock directory entry {i}: {e}")))?
            .ok_or_else(|| {
                FormatError::corrupt(
                    path,
                    format!("subblock directory is truncated at entry {i} of {count}"),
                )
            })?;
        at += entry.encoded_len();
        entries.push(entry);
    }
    Ok(entries)
}

/// Where the pixel data of a subblock is.
pub(crate) struct SubblockData {
    pub offset: u64,
    pub len: u64,
}

/// Reads the header of the subblock segment at `pos` and locates its pixel data.
pub(crate) fn subblock_data(
    file: &File,
    path: &Path,
    file_len: u64,
    pos: u64,
) -> Result<SubblockData, FormatError> {
    segment(file, path, file_len, pos, "ZISRAWSUBBLOCK")?;
    let head_len = (16 + ENTRY_FIXED + DIM_ENTRY * MAX_DIMS) as u64;
    let start = pos + SEGMENT_HEADER;
    let head_len = head_len.min(file_len.saturating_sub(start));
    let head = read_at(file, path, file_len, start, head_len, "subblock header")?;
    let meta_size = le_i32(&head, 0).and_then(|n| u64::try_from(n).ok());
    let data_size = le_i64(&head, 8).and_then(|n| u64::try_from(n).ok());
    let (Some(meta_size), Some(data_size)) = (meta_size, data_size) else {
        return Err(FormatError::corrupt(
            path,
            format!("subblock at offset {pos} has a negative or missing size"),
        ));
    };
    let entry = parse_entry(head.get(16..).unwrap_or_default())
        .map_err(|e| FormatError::corrupt(path, format!("subblock at offset {pos}: {e}")))?
        .ok_or_else(|| {
            FormatError::corrupt(path, format!("subblock at offset {pos} is truncated"))
        })?;
    // The fixed part is padded to 256 bytes when the entry is short.
    let fixed = (16 + entry.encoded_len()).max(256) as u64;
    let offset = start
        .checked_add(fixed)
        .and_then(|o| o.checked_add(meta_size))
        .ok_or_else(|| {
            FormatError::corrupt(path, format!("subblock at offset {pos}: sizes overflow"))
        })?;
    if offset.checked_add(data_size).is_none_or(|e| e > file_len) {
        return Err(FormatError::corrupt(
            path,
            format!(
                "subblock at offset {pos}: its {data_size} bytes of pixel data run past the end of the file ({file_len} bytes)"
            ),
        ));
    }
    Ok(SubblockData {
        offset,
        len: data_size,
    })
}

/// The XML of the ZISRAWMETADATA segment at `offset`.
pub(crate) fn metadata_xml(
    file: &File,
    path: &Path,
    file_len: u64,
    offset: u64,
) -> Result<String, FormatError> {
    segment(file, path, file_len, offset, "ZISRAWMETADATA")?;
    let head = read_at(
        file,
        path,
        file_len,
        offset + SEGMENT_HEADER,
        8,
        "metadata header",
    )?;
    let xml_size = le_i32(&head, 0)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| FormatError::corrupt(path, "metadata segment has a negative XML size"))?;
    if xml_size > MAX_XML {
        return Err(FormatError::metadata(
            path,
            format!("metadata XML of {xml_size} bytes is larger than the {MAX_XML} read"),
        ));
    }
    let bytes = read_at(
        file,
        path,
        file_len,
        offset + SEGMENT_HEADER + 256,
        xml_size,
        "metadata XML",
    )?;
    let text = String::from_utf8(bytes)
        .map_err(|e| FormatError::metadata(path, format!("metadata XML is not UTF-8: {e}")))?;
    Ok(text.trim_end_matches('\0').to_string())
}
