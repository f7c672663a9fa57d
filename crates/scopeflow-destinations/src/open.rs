//! The pipeline's destinations as live back-ends, shared by the agent and the retention robot.
//!
//! Secrets are resolved here, from the environment variables the pipeline names, and handed to
//! the back-ends as values; a missing variable is a configuration error that names the
//! variable, never its value. Every secret and URL is checked before any destination is
//! contacted, so a configuration error never waits behind a slow or unreachable server.

use std::sync::Arc;

use scopeflow_pipeline::{DestinationKind, Pipeline};
use scopeflow_s3::{S3Config, S3Destination};
use scopeflow_sftp::{SftpConfig, SftpDestination};
use scopeflow_transfer::{Destination, LocalDestination};

/// A destination that can never work as configured: an unset secret variable, a bad URL.
/// The message names the pipeline file and the destination, never a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Builds the destinations and clears what an interrupted run left in them (temporaries, a
/// torn last manifest line). A destination that is not reachable now is retried per file.
///
/// # Errors
/// [`ConfigError`] for what no retry can fix: an unset secret variable, a bad URL.
pub async fn build(p: &Pipeline) -> Result<Vec<Arc<dyn Destination>>, ConfigError> {
    let built = open(p)?;
    for d in &built {
        d.tidy().await;
    }
    Ok(built)
}

/// The destinations without start-up tidying, for readers such as the retention robot: they
/// only verify, and must not wait on a server that is down before they can say so per file.
///
/// # Errors
/// As [`build`].
pub fn open(p: &Pipeline) -> Result<Vec<Arc<dyn Destination>>, ConfigError> {
    let mut out = Vec::new();
    for d in &p.destinations {
        let config_err = |what: String| {
            ConfigError(format!(
                "{}: destination `{}`: {what}",
                p.file.display(),
                d.name
            ))
        };
        let built: Arc<dyn Destination> = match &d.kind {
            DestinationKind::Local { path } => Arc::new(LocalDestination::new(&d.name, path)),
            DestinationKind::Sftp(sftp) => {
                let password = match &sftp.password_env {
                    Some(var) => Some(secret(var, "password_env").map_err(config_err)?),
                    None => None,
                };
                let user = sftp.url.user.clone().or_else(login_name).ok_or_else(|| {
                    config_err("the URL names no user and the login name is unknown".into())
                })?;
                Arc::new(SftpDestination::new(SftpConfig {
                    name: d.name.clone(),
                    host: sftp.url.host.clone(),
                    port: sftp.url.port,
                    user,
                    root: sftp.url.path.clone(),
                    identity: sftp.identity.clone(),
                    password,
                    known_hosts: sftp.known_hosts.clone(),
                    parallel: sftp.parallel,
                    remote_sha256: sftp.remote_sha256,
                }))
            }
            DestinationKind::S3(s3) => {
                let access = secret(&s3.access_key_env, "access_key_env").map_err(config_err)?;
                let secret_key =
                    secret(&s3.secret_key_env, "secret_key_env").map_err(config_err)?;
                let c = S3Config::new(&d.name, s3.clone(), &access, &secret_key);
                Arc::new(S3Destination::new(c).map_err(|e| config_err(e.to_string()))?)
            }
        };
        out.push(built);
    }
    Ok(out)
}

fn secret(var: &str, key: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        Ok(_) => Err(format!("environment variable {var} ({key}) is empty")),
        Err(_) => Err(format!("environment variable {var} ({key}) is not set")),
    }
}

/// The SSH client's default user, as `ssh` would take it.
fn login_name() -> Option<String> {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}
