use std::path::Path;

use super::load_pipeline;
use crate::Failure;

pub(crate) fn check(file: &Path) -> Result<(), Failure> {
    load_pipeline(file)?;
    println!("{}: ok", file.display());
    Ok(())
}
