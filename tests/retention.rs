//! `scopeflow retention plan|run` end to end: the real agent ingests real images into real
//! local destinations (and an SFTP server started by the test), then the real robot decides,
//! with the clock set by `--now`. Each keep reason, the purge itself, trash mode and its
//! expiry, `max_per_run`, `min_copies`, crashes at fixed points and `kill -9` at random
//! moments, a file unknown to the journal; checked through `status --json`, the files on disk,
//! the destinations and the audit file.
//!
//! Unix only, like `agent`: the tests kill processes and change permissions.

#![cfg(unix)]

mod world;

mod crash;
mod keep;
mod purge;
mod sftp;
mod verify;
