//! What lies at a path, listed the same way for a source and for a stored copy so the two can be
//! compared file by file.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use crate::RelPath;

/// A file, or a folder with every file under it.
pub(super) enum Shape {
    File { size: u64 },
    Tree(Tree),
}

/// Sub-paths are '/'-separated and relative to the folder; each component passed
/// [`RelPath::new`], so `rel/sub` is always a valid [`RelPath`].
#[derive(Clone, Default)]
pub(super) struct Tree {
    /// Every sub-folder, parents before children, so creating them in order works.
    pub(super) dirs: Vec<String>,
    /// Every file with its size, sorted by sub-path.
    pub(super) files: Vec<(String, u64)>,
}

pub(super) enum WalkError {
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    /// Something that cannot be copied faithfully (a symbolic link, a device, a name that is
    /// not a valid relative path).
    Refused { path: PathBuf, reason: String },
}

/// `None` if nothing is there. `follow` follows a link at `path` itself (a source given as a
/// link is fine); links inside a folder are always refused, since copying their target or the
/// link itself could both surprise.
pub(super) fn shape(path: &Path, follow: bool) -> Result<Option<Shape>, WalkError> {
    let meta = if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    };
    let meta = match meta {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(WalkError::Io {
                path: path.to_owned(),
                op: "look up",
                source,
            });
        }
    };
    if meta.is_file() {
        Ok(Some(Shape::File { size: meta.len() }))
    } else if meta.is_dir() {
        walk(path).map(|t| Some(Shape::Tree(t)))
    } else {
        Err(WalkError::Refused {
            path: path.to_owned(),
            reason: "neither a regular file nor a folder".into(),
        })
    }
}

/// `base` joined with a '/'-separated sub-path, using the platform's separators.
pub(super) fn sub_path(base: &Path, sub: &str) -> PathBuf {
    let mut p = base.to_path_buf();
    p.extend(sub.split('/'));
    p
}

fn walk(top: &Path) -> Result<Tree, WalkError> {
    let mut tree = Tree::default();
    let mut pending = vec![(top.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let io_err = |op, source| WalkError::Io {
            path: dir.clone(),
            op,
            source,
        };
        let mut entries = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| io_err("list", e))? {
            let entry = entry.map_err(|e| io_err("list", e))?;
            let kind = entry.file_type().map_err(|e| io_err("list", e))?;
            entries.push((entry.file_name(), entry.path(), kind));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (name, path, kind) in entries {
            let refuse = |reason: String| WalkError::Refused {
                path: path.clone(),
                reason,
            };
            let Some(name) = name.to_str() else {
                return Err(refuse("the name is not valid UTF-8".into()));
            };
            if let Err(e) = RelPath::new(name) {
                return Err(refuse(e.to_string()));
            }
            let sub = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            if kind.is_dir() {
                subdirs.push((path, sub));
            } else if kind.is_file() {
                let size = fs::symlink_metadata(&path)
                    .map_err(|source| WalkError::Io {
                        path: path.clone(),
                        op: "look up",
                        source,
                    })?
                    .len();
                tree.files.push((sub, size));
            } else if kind.is_symlink() {
                return Err(refuse("symbolic links are not copied".into()));
            } else {
                return Err(refuse("neither a regular file nor a folder".into()));
            }
        }
        // Pushed in reverse so they pop in name order; each is listed before its children.
        for (path, sub) in subdirs.into_iter().rev() {
            tree.dirs.push(sub.clone());
            pending.push((path, sub));
        }
    }
    tree.files.sort();
    Ok(tree)
}
