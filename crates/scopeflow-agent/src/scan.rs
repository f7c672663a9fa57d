//! Listing the files a watch entry covers. A full scan runs at start-up, periodically, and
//! whenever the watcher reports a change, so a missed event or a file copied while the agent
//! was down is still found.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use globset::{Glob, GlobSet, GlobSetBuilder};

/// A regular file under a watched folder, as seen now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
}

pub struct Filter {
    include: GlobSet,
    exclude: GlobSet,
}

fn build(globs: &[String]) -> Result<GlobSet, globset::Error> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g)?);
    }
    b.build()
}

impl Filter {
    /// # Errors
    /// A glob does not parse (the pipeline check reports these first).
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, globset::Error> {
        Ok(Filter {
            include: build(include)?,
            exclude: build(exclude)?,
        })
    }

    /// Hidden names (ours: `.x.scopeflow-tmp-…`, and other tools' partial files) never match.
    pub fn matches(&self, rel: &str) -> bool {
        !rel.split('/').any(|part| part.starts_with('.'))
            && self.include.is_match(rel)
            && !self.exclude.is_match(rel)
    }
}

pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Every matching regular file under `root`, '/'-separated relative paths, sorted.
///
/// # Errors
/// `root` itself cannot be listed (unmounted share, permissions); unreadable subfolders are
/// skipped with a warning so one bad folder does not hide the rest.
pub fn scan(root: &Path, filter: &Filter) -> std::io::Result<Vec<Seen>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    let mut first = true;
    while let Some((dir, prefix)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::warn!(folder = %dir.display(), error = %e, "cannot list folder");
                continue;
            }
        };
        first = false;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                if !rel.split('/').any(|p| p.starts_with('.')) {
                    stack.push((entry.path(), rel));
                }
            } else if ft.is_file()
                && filter.matches(&rel)
                && let Ok(meta) = entry.metadata()
            {
                out.push(Seen {
                    rel,
                    path: entry.path(),
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_hidden_names() {
        let f = Filter::new(&["**/*.tif".into()], &["**/skip/**".into()]).unwrap();
        assert!(f.matches("a.tif"));
        assert!(f.matches("day1/a.tif"));
        assert!(!f.matches("day1/skip/a.tif"));
        assert!(!f.matches(".a.tif.scopeflow-tmp-1"));
        assert!(!f.matches("x/.partial/a.tif"));
        assert!(!f.matches("a.txt"));
    }

    #[test]
    fn scan_lists_matching_files_recursively() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("s/t")).unwrap();
        std::fs::write(d.path().join("s/t/b.tif"), b"x").unwrap();
        std::fs::write(d.path().join("a.tif"), b"yy").unwrap();
        std::fs::write(d.path().join("c.txt"), b"z").unwrap();
        let f = Filter::new(&["**/*.tif".into()], &[]).unwrap();
        let seen = scan(d.path(), &f).unwrap();
        let rels: Vec<_> = seen.iter().map(|s| (s.rel.as_str(), s.size)).collect();
        assert_eq!(rels, vec![("a.tif", 2), ("s/t/b.tif", 1)]);
    }
}
