//! End-to-end tests of the `scopeflow` binary: the real binary on real and synthetic images,
//! checked against their ground truth and against the reference Python tools of `../shared/tools`.
//!
//! Run them with `bash scripts/test.sh` (sets up python, builds the binary, runs the suite), or
//! `cargo build -p scopeflow-cli && cargo test -p scopeflow-tests`. See `util.rs` for the
//! environment variables that relocate the binary, python, the shared folder and the caches.
//!
//! Modules:
//! - `inspect`: `inspect --json` on every sample against its `.truth.json`;
//! - `qc`: `qc --json` on every sample against the truth's per-channel figures;
//! - `focus`: `qc --json`'s focus score against numpy on a sharp and a blurred sample;
//! - `convert`: every sample to NGFF 0.5 and 0.4, validated pixel for pixel by
//!   `validate_omezarr.py`, plus provenance, omero, OME-XML, pyramid depth, layout and codec
//!   options, and the refusal to overwrite;
//! - `formats`: CZI, Imaris, LIF, ND2, PNG and JPEG sources converted and validated, every series;
//! - `series`: a three-series OME-TIFF through `inspect`, `qc`, `convert` (a bioformats2raw
//!   container validated series by series, or `--series N` alone) and the agent;
//! - `bad_input`: damaged, unsupported and missing inputs (exit 1, a clear message, nothing
//!   left behind) and bad command lines (exit 2);
//! - `huge_dimensions`: headers claiming more pixels than memory holds (issue 20): exit 1, not
//!   an abort, in the commands and in the agent;
//! - `retention`: `retention plan|run` on files ingested by the real agent (local and SFTP
//!   destinations): each keep reason, purge, trash and expiry, caps, crashes and kill -9;
//! - `resend`: a copy damaged after verification is found by the robot and sent again;
//! - `batch`, `batch_slurm`: `batch submit|status|resume` with the local engine (real samples,
//!   reporting to a real server) and on a real one-node Slurm cluster (a task cancelled, resumed);
//! - `server`: the agent reporting to a real `scopeflow server`, down then up;
//! - `server_qc`: a QC alarm and a thumbnail from a real agent on the real server: API,
//!   /metrics, and the dashboard drawing the thumbnail in headless Chromium;
//! - `server_rejected`: events the server refuses (HTTP 400) set aside with its reason;
//! - `thumbnail`: the PNG of `convert` and of the agent (`qc/STEM.png`, in the manifest)
//!   against a numpy/Pillow composite of the OME-Zarr's lowest level;
//! - `status_listing`: `status` paging, filters and the format column on a real journal;
//! - `agent`: `pipeline check`, `agent --once` and the long-running agent on real files into a
//!   local destination (settling, polling, retries, quarantine, replaced files, SIGKILL at random
//!   moments, panics isolated, a file that aborts the process quarantined), checked through
//!   `status --json`, the destination's layout and `sha256sum -c`;
//! - `fair`: the naming step (reject and warn), `metadata:` and sidecar metadata files in the
//!   QC document, a sidecar's mistake quarantining its files with its line and column, the
//!   destination's RO-Crate loaded by ro-crate-py and checked against the RO-Crate 1.1 MUST rules;
//! - `exports`: the server's DataCite 4.5 JSON and Dublin Core (`oai_dc`) of files delivered by
//!   the real agent (pipeline metadata, a sidecar's `eln_url`, an odd file name), of a folder
//!   and of a search, validated against the official JSON schema and XSD;
//! - `permanent`: S3 at an IP address without `path_style`; a missing bucket, a bad S3 key, an
//!   unknown host key, a refused user key quarantined at once, then `scopeflow retry`.

#[macro_use]
mod util;

mod agent;
mod agent_throughput;
mod bad_input;
mod batch;
mod batch_slurm;
mod convert;
mod destinations;
mod exports;
mod fair;
mod focus;
mod formats;
mod huge_dimensions;
mod inspect;
mod permanent;
mod qc;
mod resend;
mod retention;
mod series;
mod server;
mod server_qc;
mod server_rejected;
mod status_listing;
mod thumbnail;
