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
    /// want; default false.
    pub path_style: bool,
    /// Verify by downloading the object and hashing it; default true. False trusts the
    /// store's own SHA-256 checksum of the upload and the size it reports.
    pub read_back: bool,
}

impl S3Settings {
    pub const DEFAULT_REGION: &str = "us-east-1";

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
            path_style: false,
            read_back: true,
        }
    }
}
