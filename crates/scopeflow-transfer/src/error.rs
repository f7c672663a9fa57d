use std::io::{self, ErrorKind};

use thiserror::Error;

/// Why a transfer failed.
///
/// Every variant names the destination and the path, so one log line says where to look. The
/// variants are split by what the caller must do next, which [`TransferError::is_transient`] sums up:
/// retry later (`Unreachable`, `Full`, most `Io`, `Mismatch` caught before publishing), or stop and
/// show an operator (`Conflict`, `Invalid`, `Mismatch` of a stored copy).
///
/// The I/O cause is kept as the error's `source()`, not repeated in the message: print the whole
/// chain (`{:#}` with anyhow) to see it.
#[non_exhaustive]
#[derive(Debug, Error)]
pub enum TransferError {
    /// `path` already holds different content. Permanent: destinations never overwrite, so only
    /// an operator can decide which copy is right.
    #[error(
        "destination {dest}: {path} already holds different content ({detail}); refusing to overwrite"
    )]
    Conflict {
        dest: String,
        path: String,
        detail: String,
    },
    /// Bytes read back from the destination differ from what was sent or expected.
    ///
    /// `published == false`: a `put` caught it on its temporary copy and published nothing, so
    /// sending again is the cure (transient). `published == true`: the stored copy itself is
    /// damaged or missing (from `verify`); a new `put` would hit `Conflict`, so an operator decides.
    #[error("destination {dest}: {path} does not match: {detail}{}", mismatch_note(*.published))]
    Mismatch {
        dest: String,
        path: String,
        detail: String,
        published: bool,
    },
    /// The destination cannot be reached now (root missing or not mounted, network down).
    /// Transient: retry later; nothing was written.
    #[error("destination {dest} is unreachable at {path}: {reason}")]
    Unreachable {
        dest: String,
        path: String,
        reason: String,
    },
    /// No space left or quota exceeded. Transient: retry once space is freed; the temporary
    /// copy was removed, so nothing partial is visible.
    #[error("destination {dest} is full while writing {path}")]
    Full {
        dest: String,
        path: String,
        source: io::Error,
    },
    /// Any other I/O failure while doing `op` on `path` (a destination path, or the local source).
    #[error("destination {dest}: cannot {op} {path}")]
    Io {
        dest: String,
        path: String,
        op: &'static str,
        source: io::Error,
    },
    /// The request itself is wrong (bad relative path, missing source, unsupported file kind).
    /// Permanent: the same call fails the same way. `dest` is empty when no destination was
    /// involved yet (parsing a [`crate::RelPath`] or a [`crate::Digest`]).
    #[error("{}invalid {path:?}: {reason}", dest_prefix(.dest))]
    Invalid {
        dest: String,
        path: String,
        reason: String,
    },
}

fn mismatch_note(published: bool) -> &'static str {
    if published {
        " (the stored copy is damaged or missing)"
    } else {
        " (caught before publishing: nothing was published, send again)"
    }
}

fn dest_prefix(dest: &str) -> String {
    if dest.is_empty() {
        String::new()
    } else {
        format!("destination {dest}: ")
    }
}

impl TransferError {
    /// Whether the same call may succeed later without anyone changing anything: the agent
    /// retries these with back-off, and quarantines the rest at once.
    pub fn is_transient(&self) -> bool {
        match self {
            TransferError::Unreachable { .. } | TransferError::Full { .. } => true,
            TransferError::Mismatch { published, .. } => !published,
            TransferError::Io { source, .. } => io_is_transient(source),
            TransferError::Conflict { .. } | TransferError::Invalid { .. } => false,
        }
    }

    /// Whether only an operator can make the same call succeed (bad credentials, a refused
    /// host key, a missing bucket, a malformed request): the agent quarantines the file at
    /// once with this reason instead of spending its retries; `scopeflow retry` re-queues it
    /// after the fix. A `Conflict` is not counted here: the agent's own resend path handles
    /// copies found damaged, and the retries leave a trace of the failed attempts.
    pub fn is_permanent(&self) -> bool {
        matches!(self, TransferError::Invalid { .. })
    }

    /// Builds an `Invalid` before any destination is involved.
    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        TransferError::Invalid {
            dest: String::new(),
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Kinds that say "this request can never work here"; everything else (network blips, files
/// locked by a virus scanner on Windows, which show as `PermissionDenied`) may pass.
fn io_is_transient(err: &io::Error) -> bool {
    !matches!(
        err.kind(),
        ErrorKind::InvalidInput
            | ErrorKind::InvalidData
            | ErrorKind::InvalidFilename
            | ErrorKind::Unsupported
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::FileTooLarge
    )
}

/// ENOSPC, EDQUOT, and on Windows ERROR_HANDLE_DISK_FULL (39) / ERROR_DISK_FULL (112), in case
/// the standard library leaves them uncategorised. Checked with `cfg!` because 112 is EHOSTDOWN
/// on Linux.
pub fn is_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    ) || (cfg!(windows) && matches!(err.raw_os_error(), Some(39 | 112)))
}

/// Kinds that mean the storage went away under us rather than refused this one request.
pub fn is_network(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::TimedOut
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
            | ErrorKind::NetworkDown
            | ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
            | ErrorKind::StaleNetworkFileHandle
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: ErrorKind) -> TransferError {
        TransferError::Io {
            dest: "nas".into(),
            path: "raw/a.tif".into(),
            op: "write",
            source: io::Error::from(kind),
        }
    }

    #[test]
    fn transient_kinds() {
        assert!(io(ErrorKind::TimedOut).is_transient());
        assert!(io(ErrorKind::PermissionDenied).is_transient());
        assert!(!io(ErrorKind::InvalidFilename).is_transient());
        let full = TransferError::Full {
            dest: "nas".into(),
            path: "raw".into(),
            source: io::Error::from(ErrorKind::StorageFull),
        };
        assert!(full.is_transient());
        let conflict = TransferError::Conflict {
            dest: "nas".into(),
            path: "raw".into(),
            detail: "x".into(),
        };
        assert!(!conflict.is_transient());
        let caught = TransferError::Mismatch {
            dest: "nas".into(),
            path: "raw".into(),
            detail: "x".into(),
            published: false,
        };
        assert!(caught.is_transient());
        assert!(!caught.is_permanent() && !full.is_permanent() && !conflict.is_permanent());
        let refused = TransferError::Invalid {
            dest: "objects".into(),
            path: "imaging".into(),
            reason: "bad credentials".into(),
        };
        assert!(refused.is_permanent() && !refused.is_transient());
        assert!(caught.to_string().contains("nothing was published"));
    }

    #[test]
    fn invalid_without_destination_reads_well() {
        let e = TransferError::invalid("a/../b", "`..` is not allowed");
        assert_eq!(e.to_string(), "invalid \"a/../b\": `..` is not allowed");
    }

    #[test]
    fn full_recognised() {
        assert!(is_full(&io::Error::from(ErrorKind::StorageFull)));
        assert!(is_full(&io::Error::from(ErrorKind::QuotaExceeded)));
        // 112 is EHOSTDOWN on Linux: only Windows may read it as "disk full".
        assert_eq!(is_full(&io::Error::from_raw_os_error(112)), cfg!(windows));
    }
}
