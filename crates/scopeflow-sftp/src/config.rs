use std::fmt;
use std::path::PathBuf;

use scopeflow_transfer::{RelPath, TransferError};

/// How to reach one SFTP destination, in plain values (the pipeline's `kind: sftp` entry once
/// its URL is taken apart and its password read from the environment).
#[derive(Clone)]
pub struct SftpConfig {
    /// The destination's name in the pipeline; every error and log line carries it.
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The remote folder that is the destination root (absolute, as in the URL).
    pub root: String,
    /// Private key file (OpenSSH or PuTTY format). When it is encrypted, `password` unlocks it.
    pub identity: Option<PathBuf>,
    /// Unlocks `identity`, or logs in by password when there is no key or the key is refused.
    /// Never logged, never shown in an error, redacted from `Debug`.
    pub password: Option<String>,
    /// The host keys the server may show; an unknown or changed key is refused, never learned.
    pub known_hosts: PathBuf,
    /// Files sent at once, which is also the number of SSH connections; 0 counts as 1.
    pub parallel: usize,
    /// Verify by running `sha256sum` on the server (an SSH exec channel) instead of reading each
    /// copy back over the network.
    pub remote_sha256: bool,
}

impl fmt::Debug for SftpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("root", &self.root)
            .field("identity", &self.identity)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("known_hosts", &self.known_hosts)
            .field("parallel", &self.parallel)
            .field("remote_sha256", &self.remote_sha256)
            .finish()
    }
}

/// The configuration as every module needs it: remote paths, and errors that name the place.
pub(crate) struct Site {
    pub(crate) cfg: SftpConfig,
    /// The root without a trailing '/' ("" for "/").
    root: String,
}

impl Site {
    pub(crate) fn new(mut cfg: SftpConfig) -> Site {
        cfg.parallel = cfg.parallel.max(1);
        let root = cfg.root.trim_end_matches('/').to_owned();
        Site { cfg, root }
    }

    pub(crate) fn name(&self) -> &str {
        &self.cfg.name
    }

    /// `user@host:port`, how the operator finds the server in their own tools.
    pub(crate) fn server(&self) -> String {
        format!("{}@{}:{}", self.cfg.user, self.cfg.host, self.cfg.port)
    }

    pub(crate) fn root(&self) -> &str {
        if self.root.is_empty() {
            "/"
        } else {
            &self.root
        }
    }

    pub(crate) fn remote(&self, rel: &RelPath) -> String {
        format!("{}/{}", self.root, rel.as_str())
    }

    /// The remote path of `rel`'s parent folder.
    pub(crate) fn remote_parent(&self, rel: &RelPath) -> String {
        match rel.as_str().rsplit_once('/') {
            Some((parent, _)) => format!("{}/{parent}", self.root),
            None => self.root().to_owned(),
        }
    }

    pub(crate) fn invalid(
        &self,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> TransferError {
        TransferError::Invalid {
            dest: self.cfg.name.clone(),
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unreachable(
        &self,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> TransferError {
        TransferError::Unreachable {
            dest: self.cfg.name.clone(),
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(
        &self,
        op: &'static str,
        path: impl Into<String>,
        source: std::io::Error,
    ) -> TransferError {
        TransferError::Io {
            dest: self.cfg.name.clone(),
            path: path.into(),
            op,
            source,
        }
    }

    pub(crate) fn mismatch(&self, rel: &RelPath, detail: String, published: bool) -> TransferError {
        TransferError::Mismatch {
            dest: self.cfg.name.clone(),
            path: rel.to_string(),
            detail,
            published,
        }
    }

    pub(crate) fn conflict(&self, rel: &RelPath, detail: String) -> TransferError {
        TransferError::Conflict {
            dest: self.cfg.name.clone(),
            path: rel.to_string(),
            detail,
        }
    }
}

/// At most a few names: the message has to fit a log line and a dashboard cell.
pub(crate) fn summarise(problems: &[String], total: usize) -> String {
    const SHOWN: usize = 5;
    let mut s = format!("{} of {total} files differ: ", problems.len());
    s.push_str(&problems[..problems.len().min(SHOWN)].join("; "));
    if problems.len() > SHOWN {
        s.push_str("; …");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password_and_paths_join() {
        let cfg = SftpConfig {
            name: "meso".into(),
            host: "h".into(),
            port: 22,
            user: "u".into(),
            root: "/data/".into(),
            identity: None,
            password: Some("hunter2".into()),
            known_hosts: "kh".into(),
            parallel: 0,
            remote_sha256: false,
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
        let ctx = Site::new(cfg);
        assert_eq!(ctx.cfg.parallel, 1);
        let rel = RelPath::new("raw/a.tif").unwrap();
        assert_eq!(ctx.remote(&rel), "/data/raw/a.tif");
        assert_eq!(ctx.remote_parent(&rel), "/data/raw");
        let top = RelPath::new("a.tif").unwrap();
        assert_eq!(ctx.remote_parent(&top), "/data");
    }
}
