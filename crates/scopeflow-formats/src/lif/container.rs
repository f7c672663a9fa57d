//! The LIF container: a UTF-16 XML header, then a chain of memory blocks, each with its id.
//!
//! Layout (as documented by liffile and Leica's "Leica Image File Formats" note): every part
//! starts with the test value 0x70 (u32), a u32 length, the byte 0x2A. The header part then holds
//! a u32 character count and the XML in UTF-16LE. A memory block part holds its data size (u64 in
//! version 2, u32 in version 1), the byte 0x2A, a u32 character count, its id in UTF-16LE, and the
//! data. Only the headers are read here: the chain is walked by seeking past each block's data.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use crate::FormatError;
use crate::positional::read_exact_at;

/// Largest XML header accepted: real headers are kilobytes to a few tens of megabytes.
const MAX_XML_CHARS: u64 = 256 << 20;
/// Memory block ids are short (`MemBlock_2699`); a longer one means a damaged header.
const MAX_ID_CHARS: u64 = 4096;
const TEST_VALUE: u32 = 0x70;
const SEPARATOR: u8 = 0x2a;

/// Where one memory block's data lies in the file.
#[derive(Clone, Copy, Debug)]
pub(super) struct Block {
    pub offset: u64,
    pub size: u64,
}

/// The memory blocks found, and why the chain ended early, if it did.
pub(super) struct Blocks {
    pub by_id: HashMap<String, Block>,
    /// Set when the chain is damaged (bad test value, header or data past the end of the file):
    /// the blocks before it stay readable, the cause explains a block that was not found.
    pub broken: Option<String>,
}

fn read_at(path: &Path, file: &File, len: usize, offset: u64) -> Result<Vec<u8>, FormatError> {
    let mut buf = crate::zeroed(path, &[len], "a memory block header")?;
    read_exact_at(file, &mut buf, offset).map_err(|e| FormatError::io(path, e))?;
    Ok(buf)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(v)
}

fn utf16(bytes: &[u8]) -> Result<String, String> {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| "invalid UTF-16 text".to_string())
}

/// Reads the XML header; returns it and the offset of the first memory block.
pub(super) fn read_xml(
    path: &Path,
    file: &File,
    file_len: u64,
) -> Result<(String, u64), FormatError> {
    if file_len < 13 {
        return Err(FormatError::corrupt(path, "LIF header is truncated"));
    }
    let head = read_at(path, file, 13, 0)?;
    if u32_at(&head, 0) != TEST_VALUE || head[8] != SEPARATOR {
        return Err(FormatError::corrupt(
            path,
            "not a LIF header (test value 0x70 / 0x2A missing)",
        ));
    }
    let chars = u64::from(u32_at(&head, 9));
    let bytes = chars * 2;
    if chars > MAX_XML_CHARS || 13 + bytes > file_len {
        return Err(FormatError::corrupt(
            path,
            format!(
                "LIF XML header of {chars} characters does not fit in the file ({file_len} bytes)"
            ),
        ));
    }
    let raw = read_at(path, file, bytes as usize, 13)?;
    let xml =
        utf16(&raw).map_err(|e| FormatError::corrupt(path, format!("LIF XML header: {e}")))?;
    Ok((xml, 13 + bytes))
}

/// Walks the memory block chain from `start`, reading only the block headers.
pub(super) fn scan_blocks(
    path: &Path,
    file: &File,
    file_len: u64,
    start: u64,
    version: u32,
) -> Result<Blocks, FormatError> {
    let size_len: u64 = if version >= 2 { 8 } else { 4 };
    // 0x70 u32, length u32, 0x2A, size, 0x2A, id length u32.
    let head_len = 4 + 4 + 1 + size_len + 1 + 4;
    let mut by_id = HashMap::new();
    let mut pos = start;
    let broken = loop {
        if pos == file_len {
            break None;
        }
        if file_len - pos < head_len {
            break Some(format!(
                "memory block header at byte {pos} is cut off by the end of the file"
            ));
        }
        let h = read_at(path, file, head_len as usize, pos)?;
        let sl = size_len as usize;
        if u32_at(&h, 0) != TEST_VALUE || h[8] != SEPARATOR || h[9 + sl] != SEPARATOR {
            break Some(format!(
                "no memory block header at byte {pos} (test values 0x70 / 0x2A missing)"
            ));
        }
        let size = if sl == 8 {
            let mut v = [0u8; 8];
            v.copy_from_slice(&h[9..17]);
            u64::from_le_bytes(v)
        } else {
            u64::from(u32_at(&h, 9))
        };
        let id_chars = u64::from(u32_at(&h, 10 + sl));
        let id_at = pos + head_len;
        if id_chars > MAX_ID_CHARS || id_chars * 2 > file_len - id_at {
            break Some(format!(
                "memory block id at byte {id_at} is damaged or cut off"
            ));
        }
        let id = match utf16(&read_at(path, file, (id_chars * 2) as usize, id_at)?) {
            Ok(id) => id,
            Err(e) => break Some(format!("memory block id at byte {id_at}: {e}")),
        };
        let offset = id_at + id_chars * 2;
        if size > file_len - offset {
            break Some(format!(
                "memory block {id} at byte {offset} holds {size} bytes but the file ends {} bytes later",
                file_len - offset
            ));
        }
        by_id.insert(id, Block { offset, size });
        pos = offset + size;
    };
    Ok(Blocks { by_id, broken })
}
