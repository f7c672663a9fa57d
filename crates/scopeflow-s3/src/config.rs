//! Turning plain configuration values into an object_store S3 client.

use std::fmt;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, Checksum, S3ConditionalPut};
use object_store::{BackoffConfig, Certificate, ClientOptions, RetryConfig};
use scopeflow_core::{S3Settings, host_is_ip};
use scopeflow_transfer::TransferError;
use tracing::warn;

/// Everything an S3 destination needs: the pipeline's settings as it checked them, and the
/// secrets the agent read from the environment variables they name (this crate never reads
/// the environment for credentials).
#[derive(Clone)]
pub struct S3Config {
    /// The destination's name in the pipeline, used in every error and log line.
    pub name: String,
    pub settings: S3Settings,
    pub access_key: String,
    pub secret_key: String,
    /// Objects (files of a folder, or parts of one large file) in flight at once.
    pub parallel: usize,
}

impl S3Config {
    pub fn new(name: &str, settings: S3Settings, access_key: &str, secret_key: &str) -> S3Config {
        S3Config {
            name: name.to_owned(),
            settings,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            parallel: 8,
        }
    }

    /// Where requests go, for error messages: endpoint and bucket, never credentials.
    pub(crate) fn location(&self) -> String {
        let endpoint = self.settings.endpoint.as_deref().unwrap_or("AWS S3");
        format!("bucket {:?} at {endpoint}", self.settings.bucket)
    }
}

/// Secrets stay out of logs and panics even when a config is printed with `{:?}`.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .field("access_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("parallel", &self.parallel)
            .finish()
    }
}

/// Builds the client without touching the network, so an unreachable server at start-up
/// only fails the puts (which the agent retries), not the agent.
pub(crate) fn build(config: &S3Config) -> Result<AmazonS3, TransferError> {
    let invalid = |reason: String| TransferError::Invalid {
        dest: config.name.clone(),
        path: config.location(),
        reason,
    };
    let c = &config.settings;
    if c.bucket.is_empty() {
        return Err(invalid("the bucket name is empty".into()));
    }
    if config.access_key.is_empty() || config.secret_key.is_empty() {
        return Err(invalid(
            "the access key or the secret key is empty (check access_key_env/secret_key_env)"
                .into(),
        ));
    }
    if c.prefix.starts_with('/') || c.prefix.ends_with('/') || c.prefix.contains("//") {
        return Err(invalid(format!(
            "prefix {:?} must not start or end with '/' nor hold '//'",
            c.prefix
        )));
    }
    let path_style = c.uses_path_style();
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&c.bucket)
        .with_region(&c.region)
        .with_access_key_id(&config.access_key)
        .with_secret_access_key(&config.secret_key)
        .with_checksum_algorithm(Checksum::SHA256)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_virtual_hosted_style_request(!path_style)
        .with_client_options(client_options(config))
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            // Few quick retries: the agent retries transient failures itself, with back-off,
            // and a dead server must show as `Unreachable` within seconds.
            max_retries: 3,
            retry_timeout: Duration::from_secs(60),
        });
    if let Some(endpoint) = &c.endpoint {
        let endpoint = endpoint.trim_end_matches('/');
        if endpoint.starts_with("http://") && !c.allow_http {
            return Err(invalid(format!(
                "endpoint {endpoint} is plain http; set allow_http: true to permit it"
            )));
        }
        if !path_style && host_is_ip(endpoint) {
            // object_store would panic signing `BUCKET.127.0.0.1`: refuse it as configuration.
            return Err(invalid(format!(
                "path_style: false forces virtual-hosted requests, which cannot reach \
                 endpoint {endpoint} (an IP address has no subdomain for the bucket); remove path_style or set it to true"
            )));
        }
        b = b.with_endpoint(if path_style {
            endpoint.to_owned()
        } else {
            virtual_hosted(endpoint, &c.bucket).map_err(invalid)?
        });
    }
    b.build()
        .map_err(|e| invalid(format!("cannot configure the S3 client: {e}")))
}

/// object_store wants the bucket already in the host name for virtual-hosted requests to a
/// custom endpoint: `https://s3.example.org` becomes `https://BUCKET.s3.example.org`.
fn virtual_hosted(endpoint: &str, bucket: &str) -> Result<String, String> {
    let (scheme, host) = endpoint
        .split_once("://")
        .ok_or_else(|| format!("endpoint {endpoint:?} lacks http:// or https://"))?;
    Ok(format!("{scheme}://{bucket}.{host}"))
}

fn client_options(c: &S3Config) -> ClientOptions {
    let mut o = ClientOptions::new()
        .with_allow_http(c.settings.allow_http)
        .with_connect_timeout(Duration::from_secs(10))
        // No limit on a whole request (a 1 GiB read-back takes as long as it takes), but a
        // stalled connection fails after a minute.
        .with_timeout_disabled()
        .with_read_timeout(Duration::from_secs(60))
        // As many kept-alive connections as requests in flight: a folder of small files has
        // 64 in flight whatever `parallel` says, and with fewer idle connections kept each
        // request beyond them opened (and closed) a connection of its own.
        .with_pool_max_idle_per_host(crate::put::in_flight_at_most(c.parallel));
    for cert in ca_bundle() {
        o = o.with_root_certificate(cert);
    }
    o
}

/// Honours `AWS_CA_BUNDLE` (the AWS tools' variable for an extra PEM bundle, e.g. a site's
/// own CA), in addition to the system roots. A bundle that cannot be read is reported and
/// skipped rather than failing the destination: plain-http endpoints and public CAs still work.
fn ca_bundle() -> Vec<Certificate> {
    let Some(path) = std::env::var_os("AWS_CA_BUNDLE").filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let loaded = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|pem| Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()));
    match loaded {
        Ok(certs) => certs,
        Err(e) => {
            warn!(bundle = %path.to_string_lossy(), error = %e, "AWS_CA_BUNDLE unusable; using the system roots only");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> S3Config {
        let mut s = S3Settings::new("imaging", "S3_ACCESS_KEY", "S3_SECRET_KEY");
        s.endpoint = Some("http://127.0.0.1:9".into());
        s.allow_http = true;
        s.path_style = Some(true);
        S3Config::new("objects", s, "AKIDEXAMPLE", "very-secret")
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", config());
        assert!(
            !shown.contains("very-secret") && !shown.contains("AKIDEXAMPLE"),
            "{shown}"
        );
    }

    #[test]
    fn builds_without_network_and_refuses_bad_values() {
        assert!(build(&config()).is_ok());
        let mut c = config();
        c.settings.allow_http = false;
        let e = build(&c).unwrap_err().to_string();
        assert!(e.contains("allow_http") && e.contains("objects"), "{e}");
        let mut c = config();
        c.secret_key.clear();
        assert!(build(&c).unwrap_err().to_string().contains("secret"));
        let mut c = config();
        c.settings.prefix = "/a".into();
        assert!(build(&c).is_err());
    }

    #[test]
    fn ip_endpoints_build_path_style_unless_forced_otherwise() {
        let mut c = config();
        c.settings.path_style = None;
        assert!(build(&c).is_ok());
        c.settings.path_style = Some(false);
        let e = build(&c).unwrap_err().to_string();
        assert!(e.contains("path_style") && e.contains("objects"), "{e}");
        c.settings.endpoint = Some("http://s3.example.org:9000".into());
        assert!(
            build(&c).is_ok(),
            "a DNS name takes the bucket as a subdomain"
        );
    }

    #[test]
    fn virtual_hosted_puts_the_bucket_in_the_host() {
        assert_eq!(
            virtual_hosted("https://s3.example.org", "imaging").unwrap(),
            "https://imaging.s3.example.org"
        );
        assert!(virtual_hosted("s3.example.org", "b").is_err());
    }
}
