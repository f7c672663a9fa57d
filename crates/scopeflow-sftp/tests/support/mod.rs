//! What only this crate's tests need on top of the shared servers (`scopeflow-testkit`): an
//! `SftpConfig` pointing at a running sshd.

#![allow(dead_code)]

use scopeflow_sftp::{SftpConfig, SftpDestination};
use scopeflow_testkit::Sshd;

/// Builds destinations on a test server (a trait, since `Sshd` lives in the testkit).
pub trait SftpSshd {
    fn config(&self, name: &str) -> SftpConfig;
    fn destination(&self, name: &str) -> SftpDestination;
}

impl SftpSshd for Sshd {
    fn config(&self, name: &str) -> SftpConfig {
        SftpConfig {
            name: name.to_owned(),
            host: "127.0.0.1".into(),
            port: self.port,
            user: self.user.clone(),
            root: self.root.display().to_string(),
            identity: Some(self.user_key.clone()),
            password: None,
            known_hosts: self.known_hosts.clone(),
            parallel: 4,
            remote_sha256: false,
        }
    }

    fn destination(&self, name: &str) -> SftpDestination {
        SftpDestination::new(self.config(name))
    }
}
