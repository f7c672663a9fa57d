use std::path::PathBuf;

use scopeflow_formats::FormatError;

/// Why a conversion failed. Usage problems (bad options, existing output) are separate from
/// failures of the work itself, because the CLI maps them to different exit codes.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Source(#[from] FormatError),
    #[error("{}: already exists (use --overwrite to replace it)", path.display())]
    OutputExists { path: PathBuf },
    #[error("invalid options: {0}")]
    Options(String),
    #[error("{}: cannot write output: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: zarr encoding failed: {what}", path.display())]
    Zarr { path: PathBuf, what: String },
}

impl ConvertError {
    /// True when the user asked for something impossible, rather than the work failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ConvertError::OutputExists { .. } | ConvertError::Options(_)
        )
    }
}
