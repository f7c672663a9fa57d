//! What only this crate's tests need on top of the shared servers (`scopeflow-testkit`): an
//! `S3Config` pointing at a running s3s-fs, and a backdoor onto its folder.

#![allow(dead_code)]

use scopeflow_core::S3Settings;
use scopeflow_s3::{S3Config, S3Destination};
use scopeflow_testkit::{BUCKET, S3Server};
use scopeflow_transfer::conformance::LocalBackdoor;

/// Builds destinations on a test server (a trait, since `S3Server` lives in the testkit).
pub trait S3Test {
    fn config(&self, name: &str, prefix: &str) -> S3Config;
    fn destination(&self, prefix: &str) -> S3Destination;
    /// s3s-fs stores objects as plain files, so the suite watches and damages them there.
    fn backdoor(&self, prefix: &str) -> LocalBackdoor;
}

impl S3Test for S3Server {
    fn config(&self, name: &str, prefix: &str) -> S3Config {
        let mut s = S3Settings::new(BUCKET, "S3_ACCESS_KEY", "S3_SECRET_KEY");
        s.prefix = prefix.to_owned();
        s.endpoint = Some(self.endpoint());
        s.allow_http = true;
        s.path_style = Some(true);
        let mut c = S3Config::new(name, s, &self.access_key, &self.secret_key);
        c.parallel = 4;
        c
    }

    fn destination(&self, prefix: &str) -> S3Destination {
        S3Destination::new(self.config("objects", prefix)).expect("valid config")
    }

    fn backdoor(&self, prefix: &str) -> LocalBackdoor {
        LocalBackdoor::new(&self.prefix_dir(prefix))
    }
}
