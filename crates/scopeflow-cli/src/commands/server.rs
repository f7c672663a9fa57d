//! `scopeflow server` and `scopeflow server token create` (owned by the server work in progress).

use crate::Failure;
use crate::flags::ServerCommand;

pub(crate) fn run(
    _command: Option<ServerCommand>,
    _db: Option<String>,
    _listen: Option<String>,
) -> Result<(), Failure> {
    Err(Failure::usage(anyhow::anyhow!(
        "the server is not available in this build yet"
    )))
}
