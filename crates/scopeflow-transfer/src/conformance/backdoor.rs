use std::fs::OpenOptions;
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::{Digest, RelPath, sha256_file};

/// Direct access to a destination's storage, bypassing the destination: how the suite watches
/// a put from outside and damages a stored copy, as bit rot or a crash would.
#[async_trait]
pub trait Backdoor: Send + Sync {
    /// The sha256 and size of what the storage shows at `rel` right now, `None` if nothing.
    async fn peek(&self, rel: &RelPath) -> io::Result<Option<(Digest, u64)>>;
    /// Inverts the bits of one byte of the stored file at `rel`.
    async fn flip_byte(&self, rel: &RelPath, offset: u64) -> io::Result<()>;
    /// Appends raw bytes to the stored file at `rel`, as a crash in the middle of a write would.
    async fn append_raw(&self, rel: &RelPath, bytes: &[u8]) -> io::Result<()>;
    /// A local folder showing the destination root (the root itself, or a fresh download of
    /// it), where `sha256sum -c manifest-sha256.txt` can run.
    async fn local_root(&self) -> io::Result<PathBuf>;
}

/// The backdoor of any destination whose root is a local or mounted folder.
pub struct LocalBackdoor {
    root: PathBuf,
}

impl LocalBackdoor {
    pub fn new(root: &Path) -> Self {
        LocalBackdoor {
            root: root.to_owned(),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

#[async_trait]
impl Backdoor for LocalBackdoor {
    async fn peek(&self, rel: &RelPath) -> io::Result<Option<(Digest, u64)>> {
        match sha256_file(&rel.under(&self.root)).await {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn flip_byte(&self, rel: &RelPath, offset: u64) -> io::Result<()> {
        let path = rel.under(&self.root);
        blocking(move || {
            let mut f = OpenOptions::new().read(true).write(true).open(path)?;
            let mut byte = [0u8; 1];
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(&mut byte)?;
            byte[0] = !byte[0];
            f.seek(SeekFrom::Start(offset))?;
            f.write_all(&byte)?;
            f.sync_all()
        })
        .await
    }

    async fn append_raw(&self, rel: &RelPath, bytes: &[u8]) -> io::Result<()> {
        let (path, bytes) = (rel.under(&self.root), bytes.to_vec());
        blocking(move || {
            let mut f = OpenOptions::new().write(true).open(path)?;
            f.seek(SeekFrom::End(0))?;
            f.write_all(&bytes)?;
            f.sync_all()
        })
        .await
    }

    async fn local_root(&self) -> io::Result<PathBuf> {
        Ok(self.root.clone())
    }
}
