//! The pipeline's destinations as live back-ends, shared by the agent and the retention robot.

use std::sync::Arc;

use scopeflow_pipeline::{DestinationKind, Pipeline};
use scopeflow_transfer::{Destination, LocalDestination};

use crate::run::AgentError;

/// Builds the destinations and clears what an interrupted run left in them (temporaries, a
/// torn last manifest line). A destination that is not reachable now is retried per file.
pub async fn build(p: &Pipeline) -> Result<Vec<Arc<dyn Destination>>, AgentError> {
    let mut out: Vec<Arc<dyn Destination>> = Vec::new();
    for d in &p.destinations {
        match &d.kind {
            DestinationKind::Local { path } => {
                let local = LocalDestination::new(&d.name, path);
                if let Err(e) = local.clean_temporaries().await {
                    tracing::warn!(destination = %d.name, error = %e, "cannot clean temporaries now");
                }
                if let Err(e) = local.repair_manifest().await {
                    tracing::warn!(destination = %d.name, error = %e, "cannot check the manifest now");
                }
                out.push(Arc::new(local));
            }
            _ => {
                return Err(AgentError::Config(format!(
                    "{}: destination `{}`: sftp and s3 destinations are not available in this version yet",
                    p.file.display(),
                    d.name
                )));
            }
        }
    }
    Ok(out)
}
