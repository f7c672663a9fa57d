//! What the server accepts from an agent, checked before anything is written. One agent token
//! must not be able to break the catalog for everyone: a size that overflows the aggregates, a
//! string PostgreSQL cannot store (NUL), a QC figure that is not a number, a path that climbs
//! out of its watched folder. A refused batch is 400 with a reason naming the event and field;
//! nothing of it is kept.

use axum::extract::{Query, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scopeflow_core::{Event, EventBatch, EventBody};
use serde_json::Value;

use crate::error::ApiError;

/// Largest file version accepted: 1 PiB, far above any microscope file, and small enough that
/// the dashboard's JavaScript numbers (exact to 2^53) and the byte totals stay exact.
pub const MAX_FILE_SIZE: u64 = 1 << 50;
/// Largest `queue` an agent may report (JavaScript's largest exact integer).
pub const MAX_QUEUE: u64 = (1 << 53) - 1;
pub const MAX_EVENTS: usize = 10_000;
pub const MAX_ID: usize = 128;
/// Paths and watched folders, in bytes (Linux's PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Names: host, destination, purge mode, channel names, dtype, axes.
pub const MAX_NAME: usize = 1024;
/// Free text: error messages and reasons.
pub const MAX_TEXT: usize = 64 * 1024;
pub const MAX_CHANNELS: usize = 100_000;

/// Checks a whole batch; returns each event's `at` normalised to fixed-width RFC 3339 UTC.
pub fn batch(batch: &EventBatch) -> Result<Vec<String>, ApiError> {
    if batch.events.len() > MAX_EVENTS {
        return Err(bad(format!(
            "{} events in one batch: at most {MAX_EVENTS}",
            batch.events.len()
        )));
    }
    if let Some(host) = &batch.host {
        name("host", host, MAX_NAME).map_err(bad)?;
    }
    if let Some(q) = batch.queue.filter(|&q| q > MAX_QUEUE) {
        return Err(bad(format!("queue {q}: at most {MAX_QUEUE}")));
    }
    batch
        .events
        .iter()
        .map(|ev| event(ev).map_err(|why| bad(format!("event {:?}: {why}", clip(&ev.id)))))
        .collect()
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(message)
}

fn event(ev: &Event) -> Result<String, String> {
    name("id", &ev.id, MAX_ID)?;
    if ev.id.contains(' ') {
        return Err("id: no spaces allowed".into());
    }
    let at = time("at", &ev.at)?;
    let f = &ev.file;
    text("file.watch", &f.watch, MAX_PATH)?;
    if f.watch.is_empty() {
        return Err("file.watch is empty".into());
    }
    relative_path(&f.path)?;
    if f.version == 0 {
        return Err("file.version 0: versions start at 1".into());
    }
    if f.size > MAX_FILE_SIZE {
        return Err(format!(
            "file.size {}: at most {MAX_FILE_SIZE} (1 PiB)",
            f.size
        ));
    }
    if let Some(sha) = &f.sha256 {
        sha256("file.sha256", sha)?;
    }
    match &ev.body {
        EventBody::Found {} | EventBody::Verified {} => {}
        EventBody::Processed { qc, thumbnail } => {
            if let Some(doc) = qc {
                qc_document(doc)?;
            }
            if let Some(png) = thumbnail {
                crate::thumbnails::check(png).map_err(|why| format!("data.thumbnail: {why}"))?;
            }
        }
        EventBody::QcAlarm {
            channel,
            channel_name,
            rule,
            value,
            threshold,
            instrument,
        } => qc_alarm(
            *channel,
            channel_name.as_deref(),
            rule,
            *value,
            *threshold,
            instrument,
        )?,
        EventBody::CopyVerified {
            destination,
            verified_at,
        } => {
            name("data.destination", destination, MAX_NAME)?;
            time("data.verified_at", verified_at)?;
        }
        EventBody::CopyInvalid { destination, error } => {
            name("data.destination", destination, MAX_NAME)?;
            if let Some(e) = error {
                text("data.error", e, MAX_TEXT)?;
            }
        }
        EventBody::Failed { error, .. } | EventBody::Quarantined { error } => {
            text("data.error", error, MAX_TEXT)?;
        }
        EventBody::Purged { mode } => {
            if let Some(m) = mode {
                name("data.mode", m, MAX_NAME)?;
            }
        }
        EventBody::Kept { reason } => text("data.reason", reason, MAX_TEXT)?,
    }
    Ok(at)
}

/// A `qc_alarm`: any rule name (agents may learn new rules before the server does), figures
/// that are numbers.
fn qc_alarm(
    channel: u64,
    channel_name: Option<&str>,
    rule: &str,
    value: Option<f64>,
    threshold: f64,
    instrument: &str,
) -> Result<(), String> {
    if channel >= MAX_CHANNELS as u64 {
        return Err(format!("data.channel {channel}: at most {MAX_CHANNELS}"));
    }
    if let Some(n) = channel_name {
        text("data.channel_name", n, MAX_NAME)?;
    }
    name("data.rule", rule, MAX_NAME)?;
    text("data.instrument", instrument, MAX_NAME)?;
    for (field, x) in [("data.value", value), ("data.threshold", Some(threshold))] {
        if x.is_some_and(|x| !x.is_finite()) {
            return Err(format!("{field}: expected a finite number"));
        }
    }
    Ok(())
}

/// Any text: bounded, and without NUL (PostgreSQL cannot store it in TEXT).
fn text(field: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("{field}: {} bytes, at most {max}", s.len()));
    }
    if s.contains('\0') {
        return Err(format!("{field} contains a NUL character"));
    }
    Ok(())
}

/// A name or identifier: non-empty, bounded, no control characters.
fn name(field: &str, s: &str, max: usize) -> Result<(), String> {
    text(field, s, max)?;
    if s.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!(
            "{field} {:?} contains a control character",
            clip(s)
        ));
    }
    Ok(())
}

fn time(field: &str, s: &str) -> Result<String, String> {
    crate::time::normalize(s).ok_or_else(|| format!("{field} {:?} is not RFC 3339", clip(s)))
}

fn sha256(field: &str, s: &str) -> Result<(), String> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(format!("{field} {:?}: expected 64 hex digits", clip(s)))
    }
}

/// Relative to the watched folder, `/`-separated, never climbing out of it.
fn relative_path(p: &str) -> Result<(), String> {
    text("file.path", p, MAX_PATH)?;
    let shown = clip(p);
    if p.is_empty() {
        return Err("file.path is empty".into());
    }
    let b = p.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if p.starts_with('/') || p.starts_with('\\') || drive {
        return Err(format!(
            "file.path {shown:?} is absolute: expected a path relative to its watched folder"
        ));
    }
    // `\` separates on Windows but is an ordinary character in Unix names: only `..` counts.
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
        || p.split('\\').any(|c| c == "..")
    {
        return Err(format!("file.path {shown:?}: empty, '.' or '..' component"));
    }
    Ok(())
}

/// The QC document of `processed`: `{"inspect", "qc", "sha256"}`. Every field the server reads
/// or the dashboard shows must have its type; other metadata is kept as sent.
fn qc_document(doc: &Value) -> Result<(), String> {
    no_nul("data.qc", doc)?;
    let obj = match doc {
        Value::Null => return Ok(()),
        Value::Object(o) => o,
        _ => return Err("data.qc: expected an object {inspect, qc, sha256}".into()),
    };
    if let Some(sha) = obj.get("sha256").filter(|v| !v.is_null()) {
        sha256("data.qc.sha256", sha.as_str().unwrap_or_default())?;
    }
    opt_string("data.qc.modified_at", obj.get("modified_at"), MAX_NAME)?;
    if let Some(inspect) = obj.get("inspect").filter(|v| !v.is_null()) {
        let Value::Object(i) = inspect else {
            return Err("data.qc.inspect: expected an object".into());
        };
        for key in ["acquired_at", "dtype", "axes", "format"] {
            opt_string(&format!("data.qc.inspect.{key}"), i.get(key), MAX_NAME)?;
        }
        if let Some(Value::String(s)) = i.get("instrument") {
            text("data.qc.inspect.instrument", s, MAX_NAME)?;
        }
        match i.get("channel_names") {
            None | Some(Value::Null) => {}
            Some(Value::Array(names)) => {
                for (n, v) in names.iter().enumerate() {
                    opt_string(
                        &format!("data.qc.inspect.channel_names[{n}]"),
                        Some(v),
                        MAX_NAME,
                    )?;
                }
            }
            Some(_) => return Err("data.qc.inspect.channel_names: expected an array".into()),
        }
        if i.get("metadata")
            .is_some_and(|m| !m.is_null() && !m.is_object())
        {
            return Err("data.qc.inspect.metadata: expected an object".into());
        }
    }
    if let Some(qc) = obj.get("qc").filter(|v| !v.is_null()) {
        let Value::Object(q) = qc else {
            return Err("data.qc.qc: expected an object {channels: [...]}".into());
        };
        match q.get("channels") {
            None | Some(Value::Null) => {}
            Some(Value::Array(chans)) => {
                if chans.len() > MAX_CHANNELS {
                    return Err(format!("data.qc.qc.channels: at most {MAX_CHANNELS}"));
                }
                for (n, c) in chans.iter().enumerate() {
                    channel(&format!("data.qc.qc.channels[{n}]"), c)?;
                }
            }
            Some(_) => return Err("data.qc.qc.channels: expected an array".into()),
        }
    }
    Ok(())
}

/// One channel of `qc --json` (see `scopeflow_core::ChannelQc`).
fn channel(field: &str, c: &Value) -> Result<(), String> {
    let Value::Object(c) = c else {
        return Err(format!("{field}: expected an object"));
    };
    opt_string(&format!("{field}.name"), c.get("name"), MAX_NAME)?;
    for key in ["index", "n_signal", "n_background", "count"] {
        match c.get(key) {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some_and(|n| n <= MAX_QUEUE) => {}
            Some(v) => {
                return Err(format!(
                    "{field}.{key}: {}: expected a non-negative integer",
                    clip(&v.to_string())
                ));
            }
        }
    }
    for key in [
        "snr",
        "saturation_fraction",
        "otsu_threshold",
        "min",
        "max",
        "mean",
        "mean_signal",
        "mean_background",
        "std_background",
        "focus",
    ] {
        match c.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => {
                let x = n.as_f64().unwrap_or_default();
                if key == "saturation_fraction" && !(0.0..=1.0).contains(&x) {
                    return Err(format!("{field}.{key}: {x} is not a fraction in [0, 1]"));
                }
            }
            Some(v) => {
                return Err(format!(
                    "{field}.{key}: {}: expected a number or null",
                    clip(&v.to_string())
                ));
            }
        }
    }
    Ok(())
}

fn opt_string(field: &str, v: Option<&Value>, max: usize) -> Result<(), String> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => text(field, s, max),
        Some(other) => Err(format!(
            "{field}: {}: expected a string or null",
            clip(&other.to_string())
        )),
    }
}

/// No NUL in any string or key of a JSON document.
fn no_nul(field: &str, v: &Value) -> Result<(), String> {
    let bad = || Err(format!("{field} contains a NUL character"));
    match v {
        Value::String(s) if s.contains('\0') => bad(),
        Value::Array(a) => a.iter().try_for_each(|x| no_nul(field, x)),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            if k.contains('\0') {
                return bad();
            }
            no_nul(field, x)
        }),
        _ => Ok(()),
    }
}

/// The start of a long value, for messages.
fn clip(s: &str) -> String {
    const KEEP: usize = 80;
    match s.char_indices().nth(KEEP) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Middleware: a query string whose decoded keys or values hold control characters (`q=%00`)
/// is refused with 400. SQLite would cut the pattern at the NUL and match every file;
/// PostgreSQL would fail the query.
pub async fn query_guard(req: Request, next: Next) -> Response {
    if req.uri().query().is_some() {
        let pairs = Query::<Vec<(String, String)>>::try_from_uri(req.uri());
        let pairs = match pairs {
            Ok(Query(p)) => p,
            Err(e) => return ApiError::bad_request(format!("query string: {e}")).into_response(),
        };
        let control = |s: &str| s.chars().any(|c| c.is_control() && c != '\t');
        if let Some((k, _)) = pairs.iter().find(|(k, v)| control(k) || control(v)) {
            return ApiError::bad_request(format!(
                "query parameter {:?} contains a control character",
                clip(k)
            ))
            .into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
