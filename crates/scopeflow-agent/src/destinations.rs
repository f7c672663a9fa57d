//! The pipeline's destinations as live back-ends, shared by the agent and the retention robot.
//!
//! Secrets are resolved here, from the environment variables the pipeline names, and handed to
//! the back-ends as values; a missing variable is a configuration error that names the
//! variable, never its value. Every secret and URL is checked before any destination is
//! contacted, so a configuration error never waits behind a slow or unreachable server.

use std::sync::Arc;

use scopeflow_pipeline::{DestinationKind, Pipeline, SftpUrl};
use scopeflow_s3::{S3Config, S3Destination};
use scopeflow_sftp::{SftpConfig, SftpDestination};
use scopeflow_transfer::{Destination, LocalDestination};

use crate::run::AgentError;

/// Builds the destinations and clears what an interrupted run left in them (temporaries, a
/// torn last manifest line). A destination that is not reachable now is retried per file.
///
/// # Errors
/// [`AgentError::Config`] for what no retry can fix: an unset secret variable, a bad URL.
pub async fn build(p: &Pipeline) -> Result<Vec<Arc<dyn Destination>>, AgentError> {
    let built = make(p)?;
    for b in &built {
        b.tidy().await;
    }
    Ok(built.into_iter().map(Built::into_dyn).collect())
}

/// The destinations without start-up tidying, for readers such as the retention robot: they
/// only verify, and must not wait on a server that is down before they can say so per file.
///
/// # Errors
/// As [`build`].
pub async fn open(p: &Pipeline) -> Result<Vec<Arc<dyn Destination>>, AgentError> {
    Ok(make(p)?.into_iter().map(Built::into_dyn).collect())
}

/// A destination as built, before start-up tidying (which each kind offers on its own type).
enum Built {
    Local(LocalDestination),
    Sftp(SftpDestination),
    S3(S3Destination),
}

impl Built {
    /// Best effort: an unreachable destination is tidied at the next start, and every
    /// `record` repairs the manifest first anyway.
    async fn tidy(&self) {
        let (name, cleaned, repaired) = match self {
            Built::Local(d) => (
                d.name(),
                d.clean_temporaries().await,
                d.repair_manifest().await,
            ),
            Built::Sftp(d) => (
                d.name(),
                d.clean_temporaries().await,
                d.repair_manifest().await,
            ),
            Built::S3(d) => (
                d.name(),
                d.clean_temporaries().await,
                d.repair_manifest().await,
            ),
        };
        if let Err(e) = cleaned {
            tracing::warn!(destination = %name, error = %e, "cannot clean temporaries now");
        }
        if let Err(e) = repaired {
            tracing::warn!(destination = %name, error = %e, "cannot check the manifest now");
        }
    }

    fn into_dyn(self) -> Arc<dyn Destination> {
        match self {
            Built::Local(d) => Arc::new(d),
            Built::Sftp(d) => Arc::new(d),
            Built::S3(d) => Arc::new(d),
        }
    }
}

fn make(p: &Pipeline) -> Result<Vec<Built>, AgentError> {
    let mut out = Vec::new();
    for d in &p.destinations {
        let config_err = |what: String| {
            AgentError::Config(format!(
                "{}: destination `{}`: {what}",
                p.file.display(),
                d.name
            ))
        };
        out.push(match &d.kind {
            DestinationKind::Local { path } => Built::Local(LocalDestination::new(&d.name, path)),
            DestinationKind::Sftp {
                url,
                identity,
                password_env,
                known_hosts,
                parallel,
                remote_sha256,
            } => {
                let url = SftpUrl::parse(url).map_err(config_err)?;
                let password = match password_env {
                    Some(var) => Some(secret(var, "password_env").map_err(config_err)?),
                    None => None,
                };
                let user = url.user.clone().or_else(login_name).ok_or_else(|| {
                    config_err("the URL names no user and the login name is unknown".into())
                })?;
                Built::Sftp(SftpDestination::new(SftpConfig {
                    name: d.name.clone(),
                    host: url.host,
                    port: url.port,
                    user,
                    root: url.path,
                    identity: identity.clone(),
                    password,
                    known_hosts: known_hosts.clone(),
                    parallel: *parallel,
                    remote_sha256: *remote_sha256,
                }))
            }
            DestinationKind::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                access_key_env,
                secret_key_env,
                allow_http,
                path_style,
                read_back,
            } => {
                let access = secret(access_key_env, "access_key_env").map_err(config_err)?;
                let secret_key = secret(secret_key_env, "secret_key_env").map_err(config_err)?;
                let mut c = S3Config::new(&d.name, bucket, &access, &secret_key);
                c.prefix = prefix.trim_matches('/').to_string();
                c.endpoint = endpoint.clone();
                c.region = region.clone();
                c.allow_http = *allow_http;
                c.path_style = *path_style;
                c.read_back = *read_back;
                Built::S3(S3Destination::new(c).map_err(|e| config_err(e.to_string()))?)
            }
        });
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
