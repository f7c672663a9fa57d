//! The vocabulary every scopeflow crate speaks.
//!
//! Invariant: this crate stays free of heavy dependencies (no tokio, zarrs, sqlx, notify),
//! so that the server, the agent and the converters can all share these types without
//! pulling each other in. `.ci/run` checks that with `cargo tree`.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod axis;
mod convert;
mod destination;
mod dtype;
mod event;
mod meta;
mod qc;
mod sftp_url;
mod state;

pub use axis::{Axis, AxisKind, axes_string};
pub use convert::{Codec, DEFAULT_CHUNK_YX, Levels, NgffVersion};
pub use destination::{S3Settings, SftpSettings, host_is_ip, host_needs_path_style};
pub use dtype::DType;
pub use event::{Event, EventAck, EventBatch, EventBody, FileRef, MAX_THUMBNAIL_BYTES};
pub use meta::{ImageMeta, PhysicalSizes, SeriesSummary};
pub use qc::{ChannelQc, qc_document};
pub use sftp_url::SftpUrl;
pub use state::{CopyState, FileState, UnknownState};

/// Version of scopeflow, recorded in every output's provenance.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
