//! What lies at a path, listed the same way for the local source and for a remote folder, so
//! the two can be compared file by file.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::FileType;
use scopeflow_transfer::RelPath;

use crate::session::Conn;

/// Folders listed at once on one connection while walking a remote tree.
const LIST_AT_ONCE: usize = 16;

pub(crate) enum Shape {
    File { size: u64 },
    Tree(Tree),
}

/// Sub-paths are '/'-separated, relative to the folder, and valid [`RelPath`] components.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub(crate) struct Tree {
    /// Every sub-folder, parents before children.
    pub(crate) dirs: Vec<String>,
    /// Every file with its size, sorted by sub-path.
    pub(crate) files: Vec<(String, u64)>,
}

pub(crate) enum WalkError {
    /// Something that cannot be copied faithfully: a link, a device, a name that is not a
    /// valid relative path.
    Refused {
        path: String,
        reason: String,
    },
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    Remote {
        path: String,
        source: SftpError,
    },
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

fn check_name(name: &str, path: impl Fn() -> String) -> Result<(), WalkError> {
    RelPath::new(name)
        .map(|_| ())
        .map_err(|e| WalkError::Refused {
            path: path(),
            reason: e.to_string(),
        })
}

/// The local source; `None` if nothing is there. A link given as the source is followed,
/// links inside a folder are refused.
pub(crate) fn local_shape(path: &Path) -> Result<Option<Shape>, WalkError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WalkError::Local { path, source }
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    if meta.is_file() {
        return Ok(Some(Shape::File { size: meta.len() }));
    }
    if !meta.is_dir() {
        return Err(WalkError::Refused {
            path: path.display().to_string(),
            reason: "neither a regular file nor a folder".into(),
        });
    }
    let mut tree = Tree::default();
    let mut pending = vec![(path.to_owned(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let p = entry.path();
            let kind = entry.file_type().map_err(io(&p))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(WalkError::Refused {
                    path: p.display().to_string(),
                    reason: "the name is not valid UTF-8".into(),
                });
            };
            check_name(&name, || p.display().to_string())?;
            let sub = join(&prefix, &name);
            if kind.is_dir() {
                tree.dirs.push(sub.clone());
                pending.push((p, sub));
            } else if kind.is_file() {
                let size = fs::symlink_metadata(&p).map_err(io(&p))?.len();
                tree.files.push((sub, size));
            } else {
                let reason = if kind.is_symlink() {
                    "symbolic links are not copied"
                } else {
                    "neither a regular file nor a folder"
                };
                return Err(WalkError::Refused {
                    path: p.display().to_string(),
                    reason: reason.into(),
                });
            }
        }
    }
    tree.dirs
        .sort_by_key(|d| (d.matches('/').count(), d.clone()));
    tree.files.sort();
    Ok(Some(Shape::Tree(tree)))
}

/// Every folder and file under the remote folder `base`, listing several folders at once.
pub(crate) async fn remote_tree(conn: &Conn, base: &str) -> Result<Tree, WalkError> {
    let mut tree = Tree::default();
    let mut level = vec![String::new()];
    while !level.is_empty() {
        let listings: Vec<_> = futures::stream::iter(level.drain(..))
            .map(|prefix| async move {
                let dir = if prefix.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}/{prefix}")
                };
                let listed = conn.sftp.read_dir(dir.as_str()).await;
                (prefix, dir, listed)
            })
            .buffer_unordered(LIST_AT_ONCE)
            .collect()
            .await;
        for (prefix, dir, listed) in listings {
            let entries = listed.map_err(|source| WalkError::Remote {
                path: dir.clone(),
                source,
            })?;
            for entry in entries {
                let name = entry.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                let path = format!("{dir}/{name}");
                check_name(&name, || path.clone())?;
                let sub = join(&prefix, &name);
                match entry.file_type() {
                    FileType::Dir => {
                        tree.dirs.push(sub.clone());
                        level.push(sub);
                    }
                    FileType::File => tree.files.push((sub, entry.metadata().len())),
                    FileType::Symlink => {
                        return Err(WalkError::Refused {
                            path,
                            reason: "a symbolic link".into(),
                        });
                    }
                    FileType::Other => {
                        return Err(WalkError::Refused {
                            path,
                            reason: "neither a regular file nor a folder".into(),
                        });
                    }
                }
            }
        }
    }
    tree.dirs
        .sort_by_key(|d| (d.matches('/').count(), d.clone()));
    tree.files.sort();
    Ok(tree)
}
