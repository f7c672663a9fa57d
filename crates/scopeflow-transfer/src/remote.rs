//! Pieces every remote back-end (SFTP, S3) needs to keep the same layout and manifest as the
//! local one, kept here so that the rules live in one place.

use std::collections::HashSet;

use crate::{Digest, RelPath, TransferError};

pub use crate::clock::now_rfc3339;
pub use crate::error::{is_full, is_network};
pub use crate::rel_path::{TEMP_MARKER, is_temporary_name};
pub use crate::sha256sum::read_line as read_sha256sum_line;

/// `sha256sum` lines for `entries` (`<hex>  <path>\n` each), ready to append to the manifest.
///
/// # Errors
/// `Invalid` for a path `sha256sum` would escape ('\\' or a line break), which [`RelPath`]
/// already refuses; checked again because the manifest must always pass `sha256sum -c`.
pub fn manifest_lines(entries: &[(RelPath, Digest)]) -> Result<String, TransferError> {
    let mut text = String::with_capacity(entries.len() * 100);
    for (path, digest) in entries {
        crate::sha256sum::push_line(&mut text, path, digest)
            .map_err(|why| TransferError::invalid(path.as_str(), why))?;
    }
    Ok(text)
}

/// The length of `manifest` up to and including its last line break: what is left once a
/// torn last line (a crash in the middle of an append) is cut.
pub fn whole_lines_len(manifest: &[u8]) -> usize {
    manifest
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// The entries a manifest does not list yet, for `record_missing`.
pub fn not_listed(manifest: &str, entries: &[(RelPath, Digest)]) -> Vec<(RelPath, Digest)> {
    let listed: HashSet<&str> = manifest
        .lines()
        .filter_map(|l| read_sha256sum_line(l).map(|(_, path)| path))
        .collect();
    entries
        .iter()
        .filter(|(p, _)| !listed.contains(p.as_str()))
        .cloned()
        .collect()
}

/// The first difference between the files of a folder to send and those stored under its
/// name (both `(sub-path, size)` sorted by sub-path), in words, or `None` if they list the same
/// files with the same sizes: what makes a folder put a `Conflict` rather than a repeat.
pub fn first_listing_difference(
    ours: &[(String, u64)],
    theirs: &[(String, u64)],
) -> Option<String> {
    if ours.len() != theirs.len() {
        return Some(format!(
            "{} files stored, {} to send",
            theirs.len(),
            ours.len()
        ));
    }
    ours.iter()
        .zip(theirs)
        .find(|(a, b)| a != b)
        .map(|((sub, size), (their_sub, their_size))| {
            if sub == their_sub {
                format!("{sub}: {their_size} bytes stored, {size} bytes to send")
            } else {
                format!("{their_sub} is stored, {sub} is to be sent")
            }
        })
}

/// Why a `verify` request cannot prove anything, or `None`: `(path, reason)` for an empty
/// list (which must never let the retention robot purge) or an entry outside `rel`.
pub fn verify_request_problem(
    rel: &RelPath,
    expected: &[(RelPath, Digest, u64)],
) -> Option<(String, String)> {
    if expected.is_empty() {
        return Some((
            rel.to_string(),
            "nothing to verify: an empty list proves nothing".into(),
        ));
    }
    expected
        .iter()
        .find(|(p, _, _)| !p.is_within(rel))
        .map(|(outside, _, _)| (outside.to_string(), format!("not within {rel}")))
}

/// An `Invalid` error for a path, before any destination is involved.
pub fn invalid(path: impl Into<String>, reason: impl Into<String>) -> TransferError {
    TransferError::invalid(path, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_and_missing() {
        let a = (RelPath::new("raw/a.tif").unwrap(), Digest([1; 32]));
        let b = (RelPath::new("raw/b.tif").unwrap(), Digest([2; 32]));
        let text = manifest_lines(std::slice::from_ref(&a)).unwrap();
        assert_eq!(text, format!("{}  raw/a.tif\n", "01".repeat(32)));
        let torn = format!("{text}0202");
        assert_eq!(whole_lines_len(torn.as_bytes()), text.len());
        assert_eq!(whole_lines_len(b"no line"), 0);
        assert_eq!(not_listed(&text, &[a, b.clone()]), vec![b]);
    }
}
