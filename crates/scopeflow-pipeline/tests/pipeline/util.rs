//! A scratch folder laid out like a small acquisition PC, so bad-file tests differ from a
//! valid pipeline only by what they test.

use std::fs;
use std::path::{Path, PathBuf};

use scopeflow_pipeline::{ConfigErrors, Pipeline, parse};

pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    /// With `acq/` (watched), `out/` (parent of local destinations) and key files.
    pub fn new() -> Dir {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let root = tmp.path();
        fs::create_dir(root.join("acq")).unwrap();
        fs::create_dir(root.join("out")).unwrap();
        fs::create_dir(root.join("keys")).unwrap();
        for file in ["keys/id", "keys/known_hosts", "keys/token"] {
            fs::write(root.join(file), "# test\n").unwrap();
        }
        Dir { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn parse(&self, yaml: &str) -> Result<Pipeline, ConfigErrors> {
        parse(yaml, Path::new("p.yaml"), self.path())
    }

    /// The problems as `(line, column, message)`; panics if the file was accepted.
    pub fn problems(&self, yaml: &str) -> Vec<(usize, usize, String)> {
        match self.parse(yaml) {
            Ok(p) => panic!("accepted:\n{yaml}\nas {p:#?}"),
            Err(e) => e
                .errors
                .into_iter()
                .map(|e| (e.line, e.column, e.message))
                .collect(),
        }
    }

    /// The single problem of a file that has exactly one.
    pub fn problem(&self, yaml: &str) -> (usize, usize, String) {
        let mut all = self.problems(yaml);
        assert_eq!(all.len(), 1, "expected one problem, got {all:#?}");
        all.remove(0)
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }
}

/// The smallest valid pipeline for [`Dir`]; tests append sections or swap lines.
pub const MINIMAL: &str = "\
version: 1
name: t
watch:
  - path: acq
destinations:
  - name: nas
    kind: local
    path: out/nas
";

/// `(line, column, message)` as the check reports it.
pub fn at(line: usize, column: usize, message: &str) -> (usize, usize, String) {
    (line, column, message.to_owned())
}
