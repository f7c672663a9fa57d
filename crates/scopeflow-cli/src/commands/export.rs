//! `scopeflow export eln`: a selection of verified files as an `.eln` for the lab notebook.

use std::path::{Path, PathBuf};

use scopeflow_agent::ExportError;

use super::retry::rel_of;
use super::{load_pipeline, runtime};
use crate::Failure;

pub(crate) fn eln(config: &Path, paths: &[PathBuf], output: &Path) -> Result<(), Failure> {
    let pipeline = load_pipeline(config)?;
    if !pipeline.state.exists() {
        return Err(Failure::work(anyhow::anyhow!(
            "no journal yet at {} (the agent has not run): nothing to export",
            pipeline.state.display()
        )));
    }
    let rels: Vec<String> = paths.iter().map(|p| rel_of(&pipeline, p)).collect();
    let exported = runtime()?
        .block_on(scopeflow_agent::export_eln(&pipeline, &rels, output))
        .map_err(|e: ExportError| Failure::work(e))?;
    println!("wrote {} ({exported} files)", output.display());
    Ok(())
}
