//! The ND2 (v2+) container: chunks that start with a 16-byte header (magic 0x0ABECEDA, name
//! length, data length) and a chunk map at the end of the file that names every chunk's offset.
//! Layout as documented by the `nd2` Python package (BSD-3, `_parse/_chunk_decode.py`).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use crate::FormatError;
use crate::positional::read_exact_at;

const CHUNK_MAGIC: u32 = 0x0ABE_CEDA;
const FILE_SIGNATURE: &[u8] = b"ND2 FILE SIGNATURE CHUNK NAME01!";
const CHUNKMAP_SIGNATURE: &[u8] = b"ND2 CHUNK MAP SIGNATURE 0000001!";
const FILEMAP_SIGNATURE: &[u8] = b"ND2 FILEMAP SIGNATURE NAME 0001!";
/// A chunk map larger than this is not a real acquisition (about 10 million entries).
const MAX_MAP_BYTES: u64 = 512 << 20;
/// Chunk names are short ASCII words; the header's name area is padded to alignment.
const MAX_NAME_BYTES: u64 = 1 << 20;

/// Where one chunk's payload lies.
#[derive(Clone, Copy, Debug)]
pub(super) struct ChunkSpan {
    pub(super) data_offset: u64,
    pub(super) data_len: u64,
}

/// The chunk map: metadata chunks by name, image frames by sequence index.
pub(super) struct ChunkMap {
    named: HashMap<String, u64>,
    frames: BTreeMap<u64, u64>,
    file_len: u64,
}

/// Reads bytes at `offset`, turning a short read into a "truncated" error naming `what`.
pub(super) fn read_at(
    path: &Path,
    file: &File,
    offset: u64,
    buf: &mut [u8],
    what: &str,
) -> Result<(), FormatError> {
    read_exact_at(file, buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FormatError::corrupt(path, format!("{what} at byte {offset} runs past the end"))
        } else {
            FormatError::io(path, e)
        }
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The (major, minor) version from the first chunk, after checking its signature.
pub(super) fn version(path: &Path, file: &File) -> Result<(u32, u32), FormatError> {
    let mut head = [0u8; 16 + 32 + 64];
    read_at(path, file, 0, &mut head, "the ND2 header chunk")?;
    if u32_at(&head, 0) != CHUNK_MAGIC
        || u32_at(&head, 4) != 32
        || u64_at(&head, 8) != 64
        || &head[16..48] != FILE_SIGNATURE
    {
        return Err(FormatError::corrupt(
            path,
            "the ND2 header chunk is damaged",
        ));
    }
    // The data reads like "Ver3.0".
    let data = &head[48..];
    let digit = |b: u8| char::from(b).to_digit(10);
    match (digit(data[3]), digit(data[5])) {
        (Some(major), Some(minor)) if data.starts_with(b"Ver") => Ok((major, minor)),
        _ => Err(FormatError::corrupt(
            path,
            "the ND2 version string is damaged",
        )),
    }
}

/// Reads the 16-byte header of the chunk at `offset`; returns its name and payload span.
pub(super) fn chunk_at(
    path: &Path,
    file: &File,
    offset: u64,
    file_len: u64,
) -> Result<(Vec<u8>, ChunkSpan), FormatError> {
    let mut hdr = [0u8; 16];
    read_at(path, file, offset, &mut hdr, "a chunk header")?;
    if u32_at(&hdr, 0) != CHUNK_MAGIC {
        return Err(FormatError::corrupt(
            path,
            format!("no ND2 chunk at byte {offset} (bad magic)"),
        ));
    }
    let name_len = u64::from(u32_at(&hdr, 4));
    let data_len = u64_at(&hdr, 8);
    if name_len > MAX_NAME_BYTES {
        return Err(FormatError::corrupt(
            path,
            format!("the chunk at byte {offset} has a bad name length ({name_len})"),
        ));
    }
    let data_offset = offset
        .checked_add(16 + name_len)
        .filter(|&d| d <= file_len)
        .ok_or_else(|| {
            FormatError::corrupt(
                path,
                format!("the chunk at byte {offset} runs past the end of the file"),
            )
        })?;
    if data_len > file_len - data_offset {
        return Err(FormatError::corrupt(
            path,
            format!("the chunk at byte {offset} ({data_len} bytes) runs past the end of the file"),
        ));
    }
    // Only the start of the name matters (it ends at the first '!'); skip the padding.
    let mut name = vec![0u8; name_len.min(256) as usize];
    read_at(path, file, offset + 16, &mut name, "a chunk name")?;
    if let Some(end) = name.iter().position(|&b| b == 0) {
        name.truncate(end);
    }
    Ok((
        name,
        ChunkSpan {
            data_offset,
            data_len,
        },
    ))
}

impl ChunkMap {
    /// Reads the map whose offset the file's last 40 bytes give.
    pub(super) fn read(path: &Path, file: &File, file_len: u64) -> Result<Self, FormatError> {
        if file_len < 40 + 112 {
            return Err(FormatError::corrupt(path, "too short for an ND2 file"));
        }
        let mut tail = [0u8; 40];
        read_at(
            path,
            file,
            file_len - 40,
            &mut tail,
            "the chunk map locator",
        )?;
        if &tail[..32] != CHUNKMAP_SIGNATURE {
            return Err(FormatError::corrupt(
                path,
                "no chunk map signature at the end of the file (truncated or still being written)",
            ));
        }
        let at = u64_at(&tail, 32);
        let (name, span) = chunk_at(path, file, at, file_len)?;
        if !name.starts_with(FILEMAP_SIGNATURE) {
            return Err(FormatError::corrupt(
                path,
                format!("the chunk map locator points to byte {at}, which holds no chunk map"),
            ));
        }
        if span.data_len > MAX_MAP_BYTES {
            return Err(FormatError::corrupt(
                path,
                "the chunk map is implausibly large",
            ));
        }
        let len = usize::try_from(span.data_len).unwrap_or(usize::MAX);
        let mut data = crate::zeroed(path, &[len], "a chunk")?;
        read_at(path, file, span.data_offset, &mut data, "the chunk map")?;
        Self::parse(path, &data, file_len)
    }

    fn parse(path: &Path, data: &[u8], file_len: u64) -> Result<Self, FormatError> {
        let mut map = ChunkMap {
            named: HashMap::new(),
            frames: BTreeMap::new(),
            file_len,
        };
        let mut pos = 0usize;
        loop {
            let bang = data[pos..]
                .iter()
                .position(|&b| b == b'!')
                .ok_or_else(|| FormatError::corrupt(path, "the chunk map has no end marker"))?;
            let name = &data[pos..pos + bang + 1];
            if name == CHUNKMAP_SIGNATURE {
                return Ok(map);
            }
            let entry = data
                .get(pos + bang + 1..pos + bang + 17)
                .ok_or_else(|| FormatError::corrupt(path, "the chunk map is cut short"))?;
            let offset = u64_at(entry, 0);
            pos += bang + 17;
            if offset >= file_len {
                return Err(FormatError::corrupt(
                    path,
                    format!(
                        "the chunk map places {} at byte {offset}, past the end of the file",
                        String::from_utf8_lossy(name)
                    ),
                ));
            }
            if let Some(index) = name
                .strip_prefix(b"ImageDataSeq|")
                .and_then(|r| r.strip_suffix(b"!"))
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u64>().ok())
            {
                map.frames.insert(index, offset);
            } else {
                map.named
                    .insert(String::from_utf8_lossy(name).into_owned(), offset);
            }
        }
    }

    /// The payload of metadata chunk `name`, if the file has one (at most `limit` bytes).
    pub(super) fn read_named(
        &self,
        path: &Path,
        file: &File,
        name: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, FormatError> {
        let Some(&offset) = self.named.get(name) else {
            return Ok(None);
        };
        let (_, span) = chunk_at(path, file, offset, self.file_len)?;
        if span.data_len > limit {
            return Err(FormatError::corrupt(
                path,
                format!(
                    "the {name} chunk is implausibly large ({} bytes)",
                    span.data_len
                ),
            ));
        }
        let len = usize::try_from(span.data_len).unwrap_or(usize::MAX);
        let mut data = crate::zeroed(path, &[len], "a chunk")?;
        read_at(path, file, span.data_offset, &mut data, name)?;
        Ok(Some(data))
    }

    /// The file offset of frame `index`'s chunk, if the file stores that frame.
    pub(super) fn frame_offset(&self, index: u64) -> Option<u64> {
        self.frames.get(&index).copied()
    }

    pub(super) fn file_len(&self) -> u64 {
        self.file_len
    }
}
