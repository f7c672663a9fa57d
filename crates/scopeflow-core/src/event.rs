//! What an agent tells the central server: events from its journal's outbox, sent in batches.
//!
//! The journal writes each event in the same transaction as the state change it reports
//! (SQLite triggers), so a crash can never lose one; the agent sends them at least once and
//! the server keeps each `id` once. These types are the wire format of `POST /api/events`,
//! shared so that both ends agree by construction.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST /api/events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The pipeline's `name` (unique per acquisition PC); must match the token's agent.
    pub agent: String,
    /// The machine's host name, for the dashboard.
    #[serde(default)]
    pub host: Option<String>,
    /// Files waiting to be processed or copied when the batch was sent.
    #[serde(default)]
    pub queue: Option<u64>,
    /// May be empty: a batch with no events is a heartbeat.
    pub events: Vec<Event>,
}

/// The server's answer: every id it now holds (new or seen before), which the agent marks sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAck {
    pub accepted: Vec<String>,
    /// How many of them were new.
    pub new: u64,
}

/// One thing that happened to one version of one raw file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and stable across retries: the server ignores an id it already has.
    pub id: String,
    /// RFC 3339 UTC, when the journal recorded it.
    pub at: String,
    pub file: FileRef,
    #[serde(flatten)]
    pub body: EventBody,
}

/// Which file version an event is about, as the agent's journal names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// The watched folder, as configured in the pipeline.
    pub watch: String,
    /// Path relative to the watched folder, `/`-separated (what `status` prints).
    pub path: String,
    pub version: u32,
    /// Of the raw file; `null` until it was processed.
    #[serde(default)]
    pub sha256: Option<String>,
    pub size: u64,
}

/// Largest thumbnail file an agent or a batch sends: a 256 × 256 RGB PNG of pure noise stays
/// under it; a bigger file is not one of ours, and the server would refuse it.
pub const MAX_THUMBNAIL_BYTES: u64 = 256 * 1024;

/// What happened, with what the server needs to show it. Serialised as
/// `"kind": "<snake_case name>", "data": {…}` beside the other fields of [`Event`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventBody {
    /// A new file (or a new version of one) was seen in a watched folder.
    Found {},
    /// Metadata read, QC measured and OME-Zarr written. `qc` is the QC document that goes to
    /// every destination: `{"inspect": <inspect --json>, "qc": <qc --json>, "sha256": …}`.
    Processed {
        #[serde(default)]
        qc: Option<Value>,
        /// The conversion's thumbnail (`qc/STEM.png`, at most 256 px a side), base64 (standard
        /// alphabet, padded). Absent from agents before thumbnails, and from files not converted;
        /// servers before it ignore the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thumbnail: Option<String>,
    },
    /// A channel of the file broke one of the pipeline's `qc:` rules (journaled once per file
    /// version, channel and rule, so sent once). Kind `qc_alarm`.
    QcAlarm {
        /// 0-based, as in `qc --json`.
        channel: u64,
        #[serde(default)]
        channel_name: Option<String>,
        /// `saturation_max`, `snr_min` or `focus_min`.
        rule: String,
        /// The figure that broke the rule; `null` when the QC gives none (no SNR on a flat channel).
        #[serde(default)]
        value: Option<f64>,
        threshold: f64,
        /// The file's instrument (its metadata's, else the agent's pipeline name).
        instrument: String,
    },
    /// One destination holds a copy that was read back and matched.
    CopyVerified {
        destination: String,
        verified_at: String,
    },
    /// A check found the copy at one destination missing or bad: it will be sent again.
    CopyInvalid {
        destination: String,
        #[serde(default)]
        error: Option<String>,
    },
    /// Every destination holds a verified copy.
    Verified {},
    /// A step failed; it is retried with back-off.
    Failed {
        error: String,
        #[serde(default)]
        attempts: u32,
    },
    /// Given up after the last attempt: an operator must look.
    Quarantined { error: String },
    /// The retention robot removed the local raw file (moved it to the trash, or deleted it).
    Purged {
        #[serde(default)]
        mode: Option<String>,
    },
    /// The retention robot kept the local raw file this time, and why.
    Kept { reason: String },
}

impl EventBody {
    /// The `kind` string as it appears on the wire and in the journal's outbox.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Found {} => "found",
            EventBody::Processed { .. } => "processed",
            EventBody::CopyVerified { .. } => "copy_verified",
            EventBody::CopyInvalid { .. } => "copy_invalid",
            EventBody::Verified {} => "verified",
            EventBody::Failed { .. } => "failed",
            EventBody::Quarantined { .. } => "quarantined",
            EventBody::Purged { .. } => "purged",
            EventBody::Kept { .. } => "kept",
            EventBody::QcAlarm { .. } => "qc_alarm",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_is_flat_kind_and_data() {
        let e = Event {
            id: "0192".into(),
            at: "2026-11-24T12:00:00.000Z".into(),
            file: FileRef {
                watch: "acq".into(),
                path: "a/b.tif".into(),
                version: 1,
                sha256: None,
                size: 10,
            },
            body: EventBody::CopyVerified {
                destination: "nas".into(),
                verified_at: "2026-11-24T12:00:01.000Z".into(),
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "copy_verified");
        assert_eq!(v["data"]["destination"], "nas");
        assert_eq!(v["file"]["path"], "a/b.tif");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.body.kind(), "copy_verified");
    }

    #[test]
    fn unknown_kind_and_missing_fields_are_refused() {
        let bad = r#"{"id":"1","at":"x","file":{"watch":"w","path":"p","version":1,"size":1},"kind":"exploded","data":{}}"#;
        assert!(serde_json::from_str::<Event>(bad).is_err());
        let missing = r#"{"id":"1","at":"x","file":{"watch":"w","path":"p","version":1,"size":1},"kind":"failed","data":{}}"#;
        assert!(serde_json::from_str::<Event>(missing).is_err());
        let found = r#"{"id":"1","at":"x","file":{"watch":"w","path":"p","version":1,"size":1},"kind":"found","data":{}}"#;
        assert_eq!(
            serde_json::from_str::<Event>(found).unwrap().body,
            EventBody::Found {}
        );
    }
}
