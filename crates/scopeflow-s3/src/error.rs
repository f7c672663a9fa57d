//! Sorting object_store failures into what the agent must do next (retry later, or stop).

use std::error::Error as _;
use std::io::{self, ErrorKind};

use object_store::client::{HttpError, HttpErrorKind};
use scopeflow_transfer::TransferError;

/// What went wrong, by the caller's next move.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No connection, or it timed out: retry later.
    Unreachable,
    /// The credentials or permissions were refused: an operator must fix the configuration.
    Denied,
    /// The bucket does not exist: an operator must create it or fix the name.
    NoBucket,
    /// The store is out of space or over quota: retry once space is freed.
    Full,
    NotFound,
    /// A conditional request lost (the key is taken, or the manifest changed meanwhile).
    Precondition,
    /// The store does not do conditional puts.
    NotImplemented,
    Other,
}

/// S3 error codes (and HTTP statuses) meaning "no room": AWS, MinIO, Ceph RGW and others.
const FULL_MARKERS: &[&str] = &[
    "QuotaExceeded",
    "EntityTooLarge",
    "XMinioStorageFull",
    "StorageFull",
    "InsufficientStorage",
    "507 Insufficient Storage",
    "No space left on device",
    "Disk quota exceeded",
];

/// Listing errors reach us as plain text with the status inside, hence the statuses here.
const DENIED_MARKERS: &[&str] = &[
    "403 Forbidden",
    "401 Unauthorized",
    "NotSignedUp",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidToken",
    "ExpiredToken",
];

pub(crate) fn kind(e: &object_store::Error) -> Kind {
    use object_store::Error as E;
    let text = chain_text(e);
    // Before `NotFound`: a missing bucket answers 404 too, but no retry can create it.
    if text.contains("NoSuchBucket") {
        return Kind::NoBucket;
    }
    match e {
        E::NotFound { .. } => return Kind::NotFound,
        E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. } => {
            return Kind::Precondition;
        }
        E::NotImplemented { .. } => return Kind::NotImplemented,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => return Kind::Denied,
        _ => {}
    }
    if FULL_MARKERS.iter().any(|m| text.contains(m)) {
        return Kind::Full;
    }
    if DENIED_MARKERS.iter().any(|m| text.contains(m)) {
        return Kind::Denied;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<HttpError>()
            && matches!(h.kind(), HttpErrorKind::Connect | HttpErrorKind::Timeout)
        {
            return Kind::Unreachable;
        }
        if let Some(io) = s.downcast_ref::<io::Error>()
            && scopeflow_transfer::remote::is_network(io)
        {
            return Kind::Unreachable;
        }
        source = s.source();
    }
    Kind::Other
}

/// The error and all its causes on one line: object_store keeps the server's XML error body
/// (with its `<Code>`) deep in the chain.
pub(crate) fn chain_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // Many layers repeat their cause in their own message.
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Names the destination and what failed where; the cause stays the error's source.
pub(crate) struct Place<'a> {
    pub dest: &'a str,
    /// "bucket … at endpoint", for errors about the store as a whole.
    pub location: &'a str,
}

impl Place<'_> {
    pub(crate) fn map(&self, op: &'static str, key: &str, e: object_store::Error) -> TransferError {
        match kind(&e) {
            Kind::Unreachable => TransferError::Unreachable {
                dest: self.dest.to_owned(),
                path: format!("{key} ({})", self.location),
                reason: chain_text(&e),
            },
            Kind::Denied => TransferError::Invalid {
                dest: self.dest.to_owned(),
                path: format!("{key} ({})", self.location),
                reason: format!(
                    "the store refused to {op} it: bad credentials or missing permission \
                     (check access_key_env/secret_key_env and the bucket policy): {}",
                    short(&chain_text(&e))
                ),
            },
            Kind::NoBucket => TransferError::Invalid {
                dest: self.dest.to_owned(),
                path: format!("{key} ({})", self.location),
                reason: format!(
                    "the bucket does not exist (NoSuchBucket): create it or fix `bucket`: {}",
                    short(&chain_text(&e))
                ),
            },
            Kind::Full => TransferError::Full {
                dest: self.dest.to_owned(),
                path: key.to_owned(),
                source: io::Error::new(ErrorKind::StorageFull, e),
            },
            _ => TransferError::Io {
                dest: self.dest.to_owned(),
                path: key.to_owned(),
                op,
                source: io::Error::other(e),
            },
        }
    }

    pub(crate) fn local(
        &self,
        op: &'static str,
        path: &std::path::Path,
        e: io::Error,
    ) -> TransferError {
        if e.kind() == ErrorKind::NotFound {
            return TransferError::Invalid {
                dest: self.dest.to_owned(),
                path: path.display().to_string(),
                reason: "the source does not exist".into(),
            };
        }
        TransferError::Io {
            dest: self.dest.to_owned(),
            path: path.display().to_string(),
            op,
            source: e,
        }
    }

    pub(crate) fn invalid(&self, path: &str, reason: impl Into<String>) -> TransferError {
        TransferError::Invalid {
            dest: self.dest.to_owned(),
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(&self, path: &str, detail: impl Into<String>) -> TransferError {
        TransferError::Conflict {
            dest: self.dest.to_owned(),
            path: path.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn mismatch(&self, path: &str, detail: String, published: bool) -> TransferError {
        TransferError::Mismatch {
            dest: self.dest.to_owned(),
            path: path.to_owned(),
            detail,
            published,
        }
    }
}

/// Server messages can carry a whole XML document; a log line needs the gist.
fn short(s: &str) -> String {
    const MAX: usize = 400;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_the_body_are_recognised() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Server returned non-2xx status code: 403: <Code>QuotaExceeded</Code>".into(),
        };
        assert_eq!(kind(&e), Kind::Full);
        let e = object_store::Error::Generic {
            store: "S3",
            source: "<Error><Code>SignatureDoesNotMatch</Code></Error>".into(),
        };
        assert_eq!(kind(&e), Kind::Denied);
        let ctx = Place {
            dest: "objects",
            location: "bucket \"b\" at http://x",
        };
        let t = ctx.map("write", "raw/a", e);
        assert!(!t.is_transient());
        let msg = t.to_string();
        assert!(
            msg.contains("objects") && msg.contains("http://x") && msg.contains("bucket"),
            "{msg}"
        );
    }
}
