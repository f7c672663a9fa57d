use std::fs;
use std::io::ErrorKind;

use super::durable::hash_stored;
use super::put::summarise;
use super::root::Root;
use crate::clock::now_rfc3339;
use crate::{Digest, RelPath, TransferError, Verified};

/// Re-reads every expected file and lists every difference, not just the first, so an operator
/// sees the extent of the damage in one message.
pub(super) fn verify(
    root: &Root,
    rel: &RelPath,
    expected: &[(RelPath, Digest, u64)],
) -> Result<Verified, TransferError> {
    if let Some((path, reason)) = crate::remote::verify_request_problem(rel, expected) {
        return Err(root.invalid(path, reason));
    }
    root.ensure(false)?;
    let mut problems = Vec::new();
    let mut bytes = 0;
    for (path, digest, size) in expected {
        let p = path.under(&root.path);
        match fs::metadata(&p) {
            Ok(m) if !m.is_file() => {
                problems.push(format!("{path}: not a file"));
                continue;
            }
            Ok(m) if m.len() != *size => {
                problems.push(format!("{path}: {} bytes stored, {size} expected", m.len()));
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                problems.push(format!("{path}: missing"));
                continue;
            }
            Err(e) => return Err(root.err("look up", &p, e)),
        }
        let (got, n) = hash_stored(&p).map_err(|e| root.err("read back", &p, e))?;
        if got != *digest || n != *size {
            problems.push(format!("{path}: sha256 {got} stored, {digest} expected"));
        }
        bytes += n;
    }
    if !problems.is_empty() {
        return Err(TransferError::Mismatch {
            dest: root.name.clone(),
            path: rel.to_string(),
            detail: summarise(&problems, expected.len()),
            published: true,
        });
    }
    Ok(Verified {
        files: expected.len(),
        bytes,
        at: now_rfc3339(),
    })
}
