//! Reports a batch's files to the central server as an agent does (`POST /api/events` with an
//! agent token, the same wire types), so the catalog covers migrated archives too. Event ids
//! are derived from (batch, file, kind): resending after a lost answer, from a task or from the
//! login node's `batch status`, changes nothing on the server.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use scopeflow_core::{Event, EventAck, EventBatch, EventBody, FileRef};
use sha2::{Digest as _, Sha256};

use crate::plan::{Plan, ServerRef};
use crate::records::{self, Record};

/// Events per request, as the agent sends them.
const BATCH: usize = 200;

fn event_id(batch: &str, path: &str, kind: &str) -> String {
    let mut h = Sha256::new();
    h.update(batch.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(kind.as_bytes());
    format!("batch-{}-{kind}", &hex::encode(h.finalize())[..32])
}

fn reported(dir: &std::path::Path) -> HashSet<String> {
    let Ok(list) = std::fs::read_dir(dir.join("reported")) else {
        return HashSet::new();
    };
    list.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// The thumbnail beside a file's QC document, base64, as the agent sends it; `None` when
/// the conversion wrote none (or it is unreadable, or too big for the server).
fn thumbnail_base64(png: &std::path::Path) -> Option<String> {
    use base64::Engine as _;
    let size = std::fs::metadata(png).ok()?.len();
    if size > scopeflow_core::MAX_THUMBNAIL_BYTES {
        return None;
    }
    let bytes = std::fs::read(png).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The events of every finished (done or failed) file not yet acknowledged.
fn pending_events(plan: &Plan, sent: &HashSet<String>) -> Result<Vec<Event>, String> {
    let dir = plan.dir();
    let watch = plan.from.display().to_string();
    let mut out = Vec::new();
    for t in 0..plan.tasks {
        let sizes: std::collections::HashMap<String, (u64, String)> = plan
            .shard(t)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|f| (f.path, (f.size, f.qc)))
            .collect();
        for r in records::read(&dir, t).map_err(|e| e.to_string())? {
            let (path, at, sha256, body) = match r {
                Record::FileDone {
                    path, at, sha256, ..
                } => {
                    let qc_rel = sizes.get(&path).map(|s| s.1.clone()).unwrap_or_default();
                    let qc = std::fs::read(plan.to.join(&qc_rel))
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok());
                    let thumbnail = thumbnail_base64(
                        &plan
                            .to
                            .join(scopeflow_destinations::thumbnail_beside(&qc_rel)),
                    );
                    (
                        path,
                        at,
                        Some(sha256),
                        EventBody::Processed { qc, thumbnail },
                    )
                }
                Record::FileFailed { path, at, error } => {
                    (path, at, None, EventBody::Failed { error, attempts: 1 })
                }
                _ => continue,
            };
            let size = sizes.get(&path).map_or(0, |s| s.0);
            let file = FileRef {
                watch: watch.clone(),
                path: path.clone(),
                version: 1,
                sha256,
                size,
            };
            for body in [EventBody::Found {}, body] {
                let id = event_id(&plan.id, &path, body.kind());
                if !sent.contains(&id) {
                    out.push(Event {
                        id,
                        at: at.clone(),
                        file: file.clone(),
                        body,
                    });
                }
            }
        }
    }
    // Failed then done again on resume: the server takes them in this order.
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// Sends what was not acknowledged yet; `writer` names this sender's acknowledgement file
/// (`reported/WRITER.txt`: one writer per file, as for the records). Returns the events sent.
///
/// # Errors
/// The server is unreachable or refused the events (the message says which and why).
pub fn flush(plan: &Plan, server: &ServerRef, writer: &str) -> Result<usize, String> {
    let dir = plan.dir();
    let events = pending_events(plan, &reported(&dir))?;
    if events.is_empty() {
        return Ok(0);
    }
    let token = std::fs::read_to_string(&server.token_file)
        .map_err(|e| format!("token file {}: {e}", server.token_file.display()))?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let url = format!("{}/api/events", server.url.trim_end_matches('/'));
    let ack_path = dir.join("reported").join(format!("{writer}.txt"));
    std::fs::create_dir_all(dir.join("reported")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut sent = 0;
    let total = events.len();
    for chunk in events.chunks(BATCH) {
        let batch = EventBatch {
            agent: server.agent.clone(),
            host: gethostname::gethostname().into_string().ok(),
            queue: Some((total - sent - chunk.len()) as u64),
            events: chunk.to_vec(),
        };
        let response = client
            .post(&url)
            .bearer_auth(token.trim())
            .json(&batch)
            .send()
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().unwrap_or_default();
            return Err(format!("{url}: HTTP {status}: {}", body.trim()));
        }
        let ack: EventAck = response
            .json()
            .map_err(|e| format!("{url}: unreadable answer: {e}"))?;
        let mut text = String::new();
        for id in &ack.accepted {
            text.push_str(id);
            text.push('\n');
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ack_path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("{}: {e}", ack_path.display()))?;
        sent += chunk.len();
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_ids_are_stable_short_and_distinct() {
        let a = super::event_id("b1", "x/a.tif", "found");
        assert_eq!(a, super::event_id("b1", "x/a.tif", "found"));
        assert_ne!(a, super::event_id("b1", "x/a.tif", "processed"));
        assert_ne!(a, super::event_id("b2", "x/a.tif", "found"));
        assert!(a.len() <= 128 && !a.contains(' '));
    }
}
