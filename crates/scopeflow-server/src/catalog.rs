//! How events move a file version through its states. Pure: the ingest loads a row, applies
//! events here, writes the row back.
//!
//! Events can arrive late and out of order (an agent retries a batch after a newer one went
//! through), so progress only moves forward by rank — an older `processed` never undoes a
//! `verified` — and `failed`/`quarantined` show only while they are newer than the last progress.

use scopeflow_core::{Event, EventBody, FileState};
use serde_json::Value;

/// Ranks on the progress path, as the `progress` column holds them.
const FOUND: i64 = rank(FileState::Discovered);
const PROCESSED: i64 = rank(FileState::Processed);
const TRANSFERRED: i64 = rank(FileState::Transferred);
const VERIFIED: i64 = rank(FileState::Verified);
const PURGED: i64 = rank(FileState::Purged);

const fn rank(s: FileState) -> i64 {
    match s.rank() {
        Some(r) => r as i64,
        None => -1,
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileRow {
    pub id: i64,
    pub agent: String,
    pub watch: String,
    pub path: String,
    pub version: i64,
    pub state: FileState,
    pub progress: i64,
    pub progress_at: String,
    pub fail_state: Option<FileState>,
    pub fail_at: Option<String>,
    pub error: Option<String>,
    pub sha256: Option<String>,
    pub size: i64,
    pub found_at: String,
    pub acquired_at: Option<String>,
    pub sort_at: String,
    pub instrument: Option<String>,
    pub user_name: Option<String>,
    pub channels: Option<String>,
    pub dtype: Option<String>,
    pub axes: Option<String>,
    pub inspect: Option<String>,
    pub qc: Option<String>,
    pub kept_reason: Option<String>,
    pub kept_at: Option<String>,
    pub purged_at: Option<String>,
    pub purge_mode: Option<String>,
    pub search: String,
    /// The format the agent's reader detected (`tiff`, `czi`…); `None` until a `processed`
    /// event names it (agents before the format was shown, or a file not yet processed).
    pub format: Option<String>,
    /// The raw file's modification time as the agent saw it (QC document `modified_at`): shown,
    /// marked as such, when the file's metadata has no acquisition time.
    pub modified_at: Option<String>,
}

/// One channel's QC figures, kept for the trends.
#[derive(Clone, Debug, PartialEq)]
pub struct QcChannel {
    pub channel: i64,
    pub name: Option<String>,
    pub snr: Option<f64>,
    pub saturation: Option<f64>,
}

/// What an event changes besides the file row.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// The QC channels to store (replacing the file's previous ones).
    pub qc: Option<Vec<QcChannel>>,
    /// The file first reached `verified` (or beyond) in this hour.
    pub verified_hour: Option<String>,
    /// A new thumbnail (PNG, base64) for the file; `None` keeps the one stored.
    pub thumbnail: Option<String>,
}

impl FileRow {
    /// A row for a file version first heard of through an event at `at`.
    pub fn new(agent: &str, ev: &Event, at: &str) -> FileRow {
        let mut row = FileRow {
            agent: agent.to_string(),
            watch: ev.file.watch.clone(),
            path: ev.file.path.clone(),
            version: i64::from(ev.file.version),
            progress: 0,
            progress_at: at.to_string(),
            sha256: ev.file.sha256.clone(),
            size: i64::try_from(ev.file.size).unwrap_or(i64::MAX),
            found_at: at.to_string(),
            sort_at: at.to_string(),
            user_name: first_folder(&ev.file.path),
            ..FileRow::default()
        };
        row.refresh();
        row
    }

    /// Applies one event recorded at `at` (normalised RFC 3339).
    pub fn apply(&mut self, ev: &Event, at: &str) -> Effects {
        let mut fx = Effects::default();
        if ev.file.sha256.is_some() {
            self.sha256.clone_from(&ev.file.sha256);
        }
        if ev.file.size > 0 {
            self.size = i64::try_from(ev.file.size).unwrap_or(i64::MAX);
        }
        if at < self.found_at.as_str() {
            self.found_at = at.to_string();
        }
        let before = self.progress;
        match &ev.body {
            EventBody::Found {} => self.advance(FOUND, at),
            EventBody::Processed { qc, thumbnail } => {
                self.advance(PROCESSED, at);
                if let Some(doc) = qc {
                    fx.qc = Some(self.take_qc(doc));
                }
                fx.thumbnail.clone_from(thumbnail);
            }
            // Stored apart (see [`crate::alarms`]); the file's state is not the alarm's business.
            EventBody::QcAlarm { .. } => {}
            EventBody::CopyVerified { .. } => self.advance(TRANSFERRED, at),
            EventBody::CopyInvalid { .. } => {
                // The copy will be sent again: no longer "every destination verified".
                if self.progress == VERIFIED && at > self.progress_at.as_str() {
                    self.progress = TRANSFERRED;
                    self.progress_at = at.to_string();
                }
            }
            EventBody::Verified {} => self.advance(VERIFIED, at),
            EventBody::Failed { error, .. } => self.fail(FileState::Failed, error, at),
            EventBody::Quarantined { error } => self.fail(FileState::Quarantined, error, at),
            EventBody::Purged { mode } => {
                self.advance(PURGED, at);
                if self.purged_at.as_deref().is_none_or(|p| at > p) {
                    self.purged_at = Some(at.to_string());
                    self.purge_mode.clone_from(mode);
                }
            }
            EventBody::Kept { reason } => {
                if self.kept_at.as_deref().is_none_or(|k| at >= k) {
                    self.kept_at = Some(at.to_string());
                    self.kept_reason = Some(reason.clone());
                }
            }
        }
        if before < VERIFIED && self.progress >= VERIFIED {
            fx.verified_hour = Some(crate::time::hour(at));
        }
        self.refresh();
        fx
    }

    fn advance(&mut self, rank: i64, at: &str) {
        if rank > self.progress {
            self.progress = rank;
        }
        if rank >= self.progress && at > self.progress_at.as_str() {
            self.progress_at = at.to_string();
        }
    }

    fn fail(&mut self, state: FileState, error: &str, at: &str) {
        if self.fail_at.as_deref().is_none_or(|f| at >= f) {
            self.fail_state = Some(state);
            self.fail_at = Some(at.to_string());
            self.error = Some(error.to_string());
        }
    }

    /// Recomputes the derived columns: shown state, sort time, search text.
    fn refresh(&mut self) {
        self.state = match (self.fail_state, &self.fail_at) {
            (Some(s), Some(at)) if at.as_str() >= self.progress_at.as_str() => s,
            _ => FileState::of_rank(self.progress),
        };
        self.sort_at = self
            .acquired_at
            .clone()
            .or_else(|| self.modified_at.clone())
            .unwrap_or_else(|| self.found_at.clone());
        let parts = [
            Some(self.path.as_str()),
            self.channels.as_deref(),
            self.instrument.as_deref(),
            self.user_name.as_deref(),
            Some(self.agent.as_str()),
            self.format.as_deref(),
        ];
        self.search = parts
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
    }

    /// Reads the QC document `{"inspect", "qc", "sha256"}`; unknown shapes are kept as they are.
    fn take_qc(&mut self, doc: &Value) -> Vec<QcChannel> {
        let inspect = &doc["inspect"];
        if inspect.is_object() {
            self.inspect = Some(inspect.to_string());
            let acquired = inspect["acquired_at"]
                .as_str()
                .and_then(crate::time::normalize);
            if acquired.is_some() {
                self.acquired_at = acquired;
            }
            self.instrument = text(&inspect["instrument"]).or(self.instrument.take());
            self.dtype = text(&inspect["dtype"]).or(self.dtype.take());
            self.axes = text(&inspect["axes"]).or(self.axes.take());
            self.format = text(&inspect["format"])
                .filter(|f| is_format_name(f))
                .or(self.format.take());
            if let Some(names) = inspect["channel_names"].as_array() {
                let names: Vec<String> = names.iter().filter_map(text).collect();
                self.channels = Some(names.join(","));
            }
            if let Some(user) = metadata_user(&inspect["metadata"]) {
                self.user_name = Some(user);
            }
        }
        if let Some(sha) = doc["sha256"].as_str() {
            self.sha256 = Some(sha.to_string());
        }
        if let Some(m) = doc["modified_at"].as_str().and_then(crate::time::normalize) {
            self.modified_at = Some(m);
        }
        let qc = &doc["qc"];
        if qc.is_object() {
            self.qc = Some(qc.to_string());
        }
        let Some(channels) = qc["channels"].as_array() else {
            return Vec::new();
        };
        channels
            .iter()
            .enumerate()
            .map(|(i, c)| QcChannel {
                channel: c["index"].as_i64().unwrap_or(i64::try_from(i).unwrap_or(0)),
                name: text(&c["name"]),
                snr: c["snr"].as_f64().filter(|v| v.is_finite()),
                saturation: c["saturation_fraction"].as_f64().filter(|v| v.is_finite()),
            })
            .collect()
    }
}

/// The name the dashboard groups a file's channels under: its instrument, else the agent that
/// reported it (one agent per acquisition PC, so usually per microscope).
pub fn instrument_or_agent<'a>(instrument: Option<&'a str>, agent: &'a str) -> &'a str {
    instrument.filter(|s| !s.is_empty()).unwrap_or(agent)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Format names are short words (`ome-tiff`, `czi`); anything else an agent sends is ignored
/// rather than shown.
fn is_format_name(f: &str) -> bool {
    f.len() <= 32
        && f.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Facilities sort acquisitions by user: `alice/2026-11-24/cells.tif`.
fn first_folder(path: &str) -> Option<String> {
    path.split_once('/')
        .map(|(first, _)| first.to_string())
        .filter(|s| !s.is_empty())
}

/// A user named by the file's own metadata (OME `Experimenter`, a `user` key…), when there is one.
fn metadata_user(meta: &Value) -> Option<String> {
    let obj = meta.as_object()?;
    obj.iter()
        .find(|(k, _)| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "user" | "username" | "user_name" | "experimenter" | "owner"
            )
        })
        .and_then(|(_, v)| text(v))
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
