use std::path::{Path, PathBuf};

/// Every failure names the file or the command at fault.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Bad flags or a batch that does not exist (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A plan, shard or record file that does not parse.
    #[error("{}: {why}", path.display())]
    Corrupt { path: PathBuf, why: String },
    /// `sbatch`, `squeue`, `sacct` or `scancel` failed or is missing.
    #[error("{0}")]
    Slurm(String),
    /// One raw file could not be converted (recorded as `failed`; the others go on).
    #[error("{0}")]
    File(String),
}

impl BatchError {
    pub fn io(path: &Path, error: std::io::Error) -> BatchError {
        BatchError::Io {
            path: path.to_path_buf(),
            error,
        }
    }

    pub fn is_usage(&self) -> bool {
        matches!(self, BatchError::Usage(_))
    }
}
