use std::path::Path;

use super::{load_pipeline, runtime};
use crate::Failure;

pub(crate) fn run(config: &Path, once: bool) -> Result<(), Failure> {
    let pipeline = load_pipeline(config)?;
    let outcome = runtime()?.block_on(scopeflow_agent::run(pipeline, once, shutdown_signal()));
    let outcome = outcome.map_err(|e| match e {
        scopeflow_agent::AgentError::Config(_) => Failure::usage(e),
        scopeflow_agent::AgentError::Journal { .. } => Failure::work(e),
    })?;
    tracing::info!(?outcome, "agent stopped");
    if once && !outcome.all_verified() {
        return Err(Failure::work(anyhow::anyhow!(
            "{}: {} verified, {} failed, {} quarantined, {} pending (see `scopeflow status --config {}`)",
            config.display(),
            outcome.verified,
            outcome.failed,
            outcome.quarantined,
            outcome.pending,
            config.display()
        )));
    }
    Ok(())
}

/// Ctrl-C everywhere, SIGTERM on Unix (systemd's stop); the Windows service wrapper stops
/// the agent through the same future.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
