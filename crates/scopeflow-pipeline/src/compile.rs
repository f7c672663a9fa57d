//! The phases of a pipeline check, in order: YAML syntax (fatal: nothing else can be read),
//! then the shape of every section, then checks across sections, then the filesystem. Every
//! phase after the first runs on whatever could be read, so all problems come out together.

use std::path::Path;

use crate::error::ConfigError;
use crate::node::{Pos, Value, parse_document};
use crate::pipeline::{Pipeline, read_pipeline};
use crate::reader::Reader;
use crate::{environment, validate};

pub(crate) fn compile(
    text: &str,
    file: &Path,
    base_dir: &Path,
) -> Result<Pipeline, Vec<ConfigError>> {
    let root = match parse_document(text) {
        Ok(root) => root,
        Err(e) => {
            return Err(vec![ConfigError {
                line: e.pos.line,
                column: e.pos.column,
                message: e.message,
            }]);
        }
    };
    let mut r = Reader::new(base_dir);
    if matches!(root.value, Value::Null) {
        r.error(
            Pos::START,
            "the file is empty: a pipeline needs at least version, name, watch and destinations",
        );
        return Err(r.into_problems());
    }
    let pipeline = read_pipeline(&root, file, &mut r);
    let sites = std::mem::take(&mut r.sites);
    validate::check_all(&sites, &mut r);
    environment::check_on_disk(&sites.on_disk, &mut r);
    match pipeline {
        Some(p) if !r.has_errors() => Ok(p),
        _ => {
            let problems = r.into_problems();
            // Readers only leave the model incomplete after reporting why.
            debug_assert!(!problems.is_empty());
            Err(problems)
        }
    }
}
