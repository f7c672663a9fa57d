//! `scopeflow retention plan|run` (owned by the retention work in progress).

use std::path::Path;

use crate::Failure;

pub(crate) fn run(
    _config: &Path,
    _now: Option<&str>,
    _json: bool,
    _purge: bool,
) -> Result<(), Failure> {
    Err(Failure::usage(anyhow::anyhow!(
        "retention is not available in this build yet"
    )))
}
