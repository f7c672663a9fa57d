//! The acquisition agent end to end: `pipeline check`, `agent --once`, the long-running agent
//! (native events and polling, SIGTERM, SIGKILL), `status --json`, and what lands at a local
//! destination (`raw/`, `ome-zarr/`, `qc/`, `manifest-sha256.txt` checked by the real
//! `sha256sum -c`).
//!
//! Every test writes its pipeline YAML into its own folder with paths relative to the YAML:
//! `acq/` is watched, `nas/confocal/` is the destination, `.scopeflow/state.db` the journal.
//! The agent always runs with `-v`; its output goes to `*.log` files in the test's folder and
//! every failure prints the commands run, their output and the logs.
//!
//! Unix only: the tests signal the agent (`kill`), check permission bits and run `sha256sum`.

#![cfg(unix)]

mod expect;
mod world;

mod alarms;
mod check;
mod desktop;
mod isolation;
mod kill;
mod once;
mod retries;
mod settle;
