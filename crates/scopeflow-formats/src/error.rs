use std::path::PathBuf;

/// Why a file could not be read. Every variant names the file, because the message is what
/// an operator sees in a log or in `status` for one of thousands of files.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The OS error is part of the message, not a `source`: chained error printers would
    /// otherwise print it twice.
    #[error("{}: cannot read: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: unsupported format: {what}", path.display())]
    UnsupportedFormat { path: PathBuf, what: String },
    #[error("{}: unsupported: {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: corrupt or truncated file: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
    #[error("{}: invalid metadata: {what}", path.display())]
    Metadata { path: PathBuf, what: String },
    #[error("{}: {what}", path.display())]
    Usage { path: PathBuf, what: String },
}

impl FormatError {
    /// Whether reading the same bytes again can never succeed: a known format or a feature
    /// this build does not read. The agent quarantines such a file at once instead of
    /// spending its retries. Unrecognised bytes are not permanent: they may be a file whose
    /// header is still being written.
    pub fn is_permanent(&self) -> bool {
        match self {
            FormatError::Unsupported { .. } => true,
            FormatError::UnsupportedFormat { what, .. } => {
                *what != crate::Format::Unknown.describe()
            }
            _ => false,
        }
    }

    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        FormatError::Io {
            path: path.to_path_buf(),
            error: source,
        }
    }

    pub fn corrupt(path: &std::path::Path, what: impl Into<String>) -> Self {
        FormatError::Corrupt {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub fn unsupported(path: &std::path::Path, what: impl Into<String>) -> Self {
        FormatError::Unsupported {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    pub fn metadata(path: &std::path::Path, what: impl Into<String>) -> Self {
        FormatError::Metadata {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}
