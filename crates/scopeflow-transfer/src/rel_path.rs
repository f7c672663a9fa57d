use std::fmt;
use std::path::{Path, PathBuf};

use crate::TransferError;

/// The marker in the names of this crate's temporaries; see [`is_temporary_name`].
pub const TEMP_MARKER: &str = ".scopeflow-tmp-";

/// A path relative to a destination root, '/'-separated.
///
/// Checked once here so that every back-end can trust it: it cannot climb out of the root (no
/// absolute path, no `..`), it has one spelling (no empty or `.` component, no trailing '/'), and
/// it can be written to `manifest-sha256.txt` as is: `sha256sum` escapes names holding '\\' or a
/// line break, and '\\' is also a separator on Windows, so both are refused, as are other control
/// characters. Names shaped like this crate's temporaries (`.x.scopeflow-tmp-…`) are refused too,
/// because `clean_temporaries` removes whatever carries that shape.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

impl RelPath {
    pub fn new(s: &str) -> Result<RelPath, TransferError> {
        if s.is_empty() {
            return Err(TransferError::invalid(s, "the path is empty"));
        }
        if s.starts_with('/') {
            return Err(TransferError::invalid(
                s,
                "the path is absolute; it must be relative to the destination root",
            ));
        }
        for c in s.chars() {
            if c == '\\' {
                return Err(TransferError::invalid(
                    s,
                    "'\\' is refused: paths are '/'-separated, '\\' separates folders on Windows, \
                     and sha256sum would escape it in manifest-sha256.txt",
                ));
            }
            if c == '\n' || c == '\r' {
                return Err(TransferError::invalid(
                    s,
                    "a line break is refused: sha256sum would escape it in manifest-sha256.txt",
                ));
            }
            if c.is_control() {
                return Err(TransferError::invalid(
                    s,
                    format!("the control character {c:?} is refused"),
                ));
            }
        }
        for part in s.split('/') {
            match part {
                "" => {
                    return Err(TransferError::invalid(
                        s,
                        "empty component (double or trailing '/')",
                    ));
                }
                "." | ".." => {
                    return Err(TransferError::invalid(
                        s,
                        format!("the component {part:?} is not allowed"),
                    ));
                }
                _ if is_temporary_name(part) => {
                    return Err(TransferError::invalid(
                        s,
                        format!(
                            "{part:?} is shaped like a scopeflow temporary, which clean-up removes"
                        ),
                    ));
                }
                // "C:" would make the path absolute once joined on Windows.
                _ if part.len() == 2 && part.ends_with(':') => {
                    return Err(TransferError::invalid(s, "a drive letter is not allowed"));
                }
                _ => {}
            }
        }
        Ok(RelPath(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self/child`, where `child` may itself hold several '/'-separated components.
    pub fn join(&self, child: &str) -> Result<RelPath, TransferError> {
        RelPath::new(&format!("{}/{child}", self.0))
    }

    /// The last component.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether `self` is `base` or lies inside it (component-wise: `raw/ab` is not inside `raw/a`).
    pub fn is_within(&self, base: &RelPath) -> bool {
        self.0 == base.0
            || (self.0.starts_with(&base.0) && self.0.as_bytes().get(base.0.len()) == Some(&b'/'))
    }

    /// Where this path lies under a local `root`, built component by component so it uses the
    /// platform's separator.
    pub fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        p.extend(self.0.split('/'));
        p
    }
}

/// `.<name>.scopeflow-tmp-<unique>`: the only shape `clean_temporaries` deletes.
pub fn is_temporary_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARKER)
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for ok in [
            "a",
            "raw/2026-08-01/img 01.ome.tif",
            ".hidden",
            "ome-zarr/x.ome.zarr/0/c/1/2",
        ] {
            assert_eq!(RelPath::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_what_could_escape_or_break_the_manifest() {
        for bad in [
            "",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "a/../b",
            "..",
            "a\\b",
            "a\nb",
            "a\rb",
            "a\tb",
            "C:/x",
            "raw/.a.tif.scopeflow-tmp-1-2",
        ] {
            assert!(RelPath::new(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn errors_say_why() {
        let e = RelPath::new("a\nb").unwrap_err().to_string();
        assert!(e.contains("sha256sum"), "{e}");
        let e = RelPath::new("a\\b").unwrap_err().to_string();
        assert!(e.contains("sha256sum"), "{e}");
    }

    #[test]
    fn join_and_within() {
        let base = RelPath::new("ome-zarr/x.ome.zarr").unwrap();
        let child = base.join("0/c/0").unwrap();
        assert_eq!(child.as_str(), "ome-zarr/x.ome.zarr/0/c/0");
        assert_eq!(child.file_name(), "0");
        assert!(child.is_within(&base));
        assert!(base.is_within(&base));
        assert!(
            !RelPath::new("ome-zarr/x.ome.zarrX")
                .unwrap()
                .is_within(&base)
        );
        assert!(base.join("../y").is_err());
        assert!(base.join("").is_err());
    }

    #[test]
    fn under_uses_platform_separators() {
        let p = RelPath::new("a/b/c").unwrap().under(Path::new("root"));
        assert_eq!(p, Path::new("root").join("a").join("b").join("c"));
    }
}
