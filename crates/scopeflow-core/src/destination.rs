//! What a pipeline file says about each kind of remote destination, checked and with its
//! defaults applied, once, by `scopeflow-pipeline`; the back-end crates take these values
//! as they are (with the secrets the named environment variables hold), so a default or a
//! rule is never written twice.

use std::path::PathBuf;

use crate::SftpUrl;

/// `kind: sftp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SftpSettings {
    pub url: SftpUrl,
    /// Private key file.
    pub identity: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Host keys the server must present: an unknown or changed key is refused.
    pub known_hosts: PathBuf,
    /// Files sent at once (and SSH connections); default 4.
    pub parallel: usize,
    /// Verify by running `sha256sum` on the server instead of reading the copy back;
    /// default false.
    pub remote_sha256: bool,
}

impl SftpSettings {
    pub const DEFAULT_PARALLEL: usize = 4;
}

/// `kind: s3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix inside the bucket (the destination root), without leading or trailing `/`;
    /// empty for the bucket root.
    pub prefix: String,
    /// `None` for AWS itself, else e.g. `https://s3.example.org`.
    pub endpoint: Option<String>,
    /// Default `us-east-1`.
    pub region: String,
    /// Names of the environment variables holding the keys (never the keys).
    pub access_key_env: String,
    pub secret_key_env: String,
    /// Allow a plain-http `endpoint` (a test server); default false.
    pub allow_http: bool,
    /// Path-style requests (`endpoint/bucket/key`), which MinIO and most on-premise stores
    /// want. `None` (the default) chooses as the AWS SDKs do: path style when the endpoint's
    /// host is an IP address or `localhost` (no DNS name can carry the bucket), virtual-hosted
    /// otherwise. See [`S3Settings::uses_path_style`].
    pub path_style: Option<bool>,
    /// Verify by downloading the object and hashing it; default true. False trusts the
    /// store's own SHA-256 checksum of the upload and the size it reports.
    pub read_back: bool,
}

impl S3Settings {
    pub const DEFAULT_REGION: &str = "us-east-1";

    /// Whether requests are path style: what the file says, else path style exactly when the
    /// endpoint's host cannot take the bucket as a subdomain.
    pub fn uses_path_style(&self) -> bool {
        self.path_style
            .unwrap_or_else(|| self.endpoint.as_deref().is_some_and(host_needs_path_style))
    }

    /// Defaults for everything but the bucket and the names of the key variables.
    pub fn new(bucket: &str, access_key_env: &str, secret_key_env: &str) -> S3Settings {
        S3Settings {
            bucket: bucket.to_owned(),
            prefix: String::new(),
            endpoint: None,
            region: S3Settings::DEFAULT_REGION.to_owned(),
            access_key_env: access_key_env.to_owned(),
            secret_key_env: secret_key_env.to_owned(),
            allow_http: false,
            path_style: None,
            read_back: true,
        }
    }
}

/// True when `endpoint`'s host is an IPv4 or IPv6 address or `localhost`: a virtual-hosted
/// request would prefix the bucket to it (`bucket.127.0.0.1`), which is no valid host name
/// for an IP, and for `localhost` resolves only where the system maps `*.localhost`.
pub fn host_needs_path_style(endpoint: &str) -> bool {
    endpoint_host(endpoint).eq_ignore_ascii_case("localhost") || host_is_ip(endpoint)
}

/// True when `endpoint`'s host is an IPv4 or IPv6 address.
pub fn host_is_ip(endpoint: &str) -> bool {
    let host = endpoint_host(endpoint);
    host.parse::<std::net::Ipv4Addr>().is_ok() || host.parse::<std::net::Ipv6Addr>().is_ok()
}

/// The host of a URL without scheme, user, port, path or a trailing dot (`[::1]` as `::1`).
fn endpoint_host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else if host_port.matches(':').count() > 1 {
        host_port // a bare IPv6 address
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_and_localhost_hosts_need_path_style() {
        for e in [
            "http://127.0.0.1:9000",
            "http://127.0.0.1",
            "https://10.1.2.3:443/",
            "http://[::1]:9000",
            "http://[fd00::1]/",
            "http://localhost:9000",
            "http://LOCALHOST",
            "http://user@192.168.0.7:9000",
        ] {
            assert!(host_needs_path_style(e), "{e}");
        }
        for e in [
            "https://s3.example.org",
            "https://s3.example.org:9000",
            "https://localhost.example.org",
            "https://10.1.2.3.nip.io",
            "https://s3.eu-west-1.amazonaws.com",
        ] {
            assert!(!host_needs_path_style(e), "{e}");
        }
        assert!(!host_is_ip("http://localhost:9000"));
        assert!(host_is_ip("http://[::1]:9000"));
    }

    #[test]
    fn unset_path_style_follows_the_endpoint() {
        let mut s = S3Settings::new("b", "A", "S");
        assert!(!s.uses_path_style(), "AWS itself: virtual-hosted");
        s.endpoint = Some("http://127.0.0.1:9000".into());
        assert!(s.uses_path_style());
        s.path_style = Some(false);
        assert!(!s.uses_path_style(), "what the file says wins");
        s.endpoint = Some("https://s3.example.org".into());
        s.path_style = None;
        assert!(!s.uses_path_style());
        s.path_style = Some(true);
        assert!(s.uses_path_style());
    }
}
