//! Index files at the root (the RO-Crate's `ro-crate-metadata.json`): the one kind of file a
//! destination replaces, since it describes the copies rather than being one.

use std::fs;

use super::durable::{sync_dir, sync_file};
use super::root::Root;
use super::temporary::Temporary;
use crate::TransferError;

/// Writes `bytes` under a temporary name, flushes it, then renames it over `name` at the root
/// (a replacing rename on Unix and Windows alike): a reader sees the old or the new index, never
/// a torn one.
pub(super) fn publish(root: &Root, name: &str, bytes: &[u8]) -> Result<(), TransferError> {
    root.ensure(true)?;
    let target = root.path.join(name);
    let temp = Temporary::beside(&target);
    fs::write(temp.path(), bytes).map_err(|e| root.err("write", temp.path(), e))?;
    sync_file(temp.path()).map_err(|e| root.err("flush", temp.path(), e))?;
    fs::rename(temp.path(), &target).map_err(|e| root.err("publish", &target, e))?;
    temp.disarm();
    sync_dir(&root.path).map_err(|e| root.err("flush folder", &root.path, e))
}
