//! Real servers for the tests, started on a free 127.0.0.1 port with generated keys or
//! credentials and killed on drop: OpenSSH's `sshd` (SFTP) and `s3s-fs` (S3). One copy for
//! every crate's tests, so that a fix in how a server is started or stopped reaches them all.
//!
//! A missing program fails the test with the command that installs it, unless
//! `SCOPEFLOW_SKIP_SSHD=1` / `SCOPEFLOW_SKIP_S3S_FS=1` is set: the start then returns `None`
//! and the test returns early, saying so.
//!
//! Nothing here knows the crates under test: building an `SftpConfig` or an `S3Config` from a
//! server stays in each crate's own test support.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod files;
mod s3s;
mod slurm;
mod sshd;

pub use files::{files_under, write_random};
pub use s3s::{BUCKET, S3Server};
pub use slurm::Slurm;
pub use sshd::{Prepare, Sshd, SshdOptions, Tmpfs, keygen};
