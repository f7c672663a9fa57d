//! Sends the journal's outbox to the central server, at least once, in order.
//!
//! The journal writes each event in the transaction of the change it reports, so this loop
//! only has to drain the outbox: events are marked sent once the server acknowledged their
//! ids, and a server down for hours simply finds them waiting. The server keeps each id once,
//! so a batch resent after a lost acknowledgement changes nothing.

use std::time::Duration;

use scopeflow_core::{Event, EventAck, EventBatch};
use scopeflow_journal::Journal;
use scopeflow_pipeline::Server;

/// Events per request: large enough to keep up with a busy instrument, small enough to stay far
/// below the server's request size limit even with QC documents of many channels.
const BATCH: u32 = 200;
const IDLE: Duration = Duration::from_secs(2);
/// A batch with no events tells the server the agent is alive and how long its queue is.
const HEARTBEAT: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Acknowledged events are kept this long (to look at with sqlite3 when something is odd),
/// then forgotten, checked at start and then this often.
const KEEP_SENT: Duration = Duration::from_secs(24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Payload bytes per request: thumbnails (up to a few hundred KiB each) would otherwise take a
/// batch past the server's request limit (8 MiB by default) after an outage.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Keeps the first events of `rows` whose payloads fit in [`BATCH_BYTES`] (at least one);
/// `true` if some were left for the next request.
fn cut_to_bytes(rows: &mut Vec<scopeflow_journal::OutboxEvent>) -> bool {
    let mut total = 0usize;
    let keep = rows
        .iter()
        .position(|r| {
            total = total.saturating_add(r.payload.len());
            total > BATCH_BYTES
        })
        .map_or(rows.len(), |i| i.max(1));
    let cut = keep < rows.len();
    rows.truncate(keep);
    cut
}

pub(crate) struct Reporter {
    journal: Journal,
    server: Server,
    agent: String,
    host: Option<String>,
    client: reqwest::Client,
}

/// Why a send did not go through; the loop backs off on `Retry` and logs `Rejected` loudly.
pub(crate) enum SendError {
    Retry(String),
    /// The agent as a whole was refused (bad token, wrong URL): every batch would be, so the
    /// events wait for the operator's fix.
    Rejected(String),
    /// This batch was refused for what it holds (HTTP 400, 413, 422): resending it cannot
    /// work, so its poison events are found and set aside.
    Poison(String),
}

impl Reporter {
    pub(crate) fn new(journal: Journal, server: Server, agent: String) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("server {}: cannot build an HTTP client: {e}", server.url))?;
        Ok(Reporter {
            journal,
            server,
            agent,
            host: gethostname::gethostname().into_string().ok(),
            client,
        })
    }

    /// Runs until the task is dropped. Never fails: the outbox keeps what was not sent.
    pub(crate) async fn run(&self) {
        let mut backoff = IDLE;
        let mut last_sent = tokio::time::Instant::now() - HEARTBEAT;
        let mut was_down = false;
        let mut pruned: Option<tokio::time::Instant> = None;
        loop {
            if pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                self.prune().await;
                pruned = Some(tokio::time::Instant::now());
            }
            match self.flush(last_sent.elapsed() >= HEARTBEAT).await {
                Ok(sent) => {
                    if was_down {
                        tracing::info!(server = %self.server.url, "central server reachable again");
                        was_down = false;
                    }
                    backoff = IDLE;
                    if sent {
                        last_sent = tokio::time::Instant::now();
                        continue;
                    }
                }
                Err(SendError::Retry(why)) => {
                    if !was_down {
                        tracing::warn!(server = %self.server.url, error = %why, "cannot report to the central server; events wait in the journal");
                        was_down = true;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(SendError::Rejected(why) | SendError::Poison(why)) => {
                    tracing::error!(server = %self.server.url, error = %why, "the central server refused the agent's events");
                    backoff = MAX_BACKOFF;
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// Forgets events acknowledged more than [`KEEP_SENT`] ago; a failure is only logged (the
    /// next pass tries again, and nothing waiting is touched).
    pub(crate) async fn prune(&self) {
        match self.journal.prune_sent(KEEP_SENT).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(events = n, "acknowledged events forgotten"),
            Err(e) => tracing::warn!(error = %e, "cannot forget acknowledged events"),
        }
    }

    /// Sends everything waiting (and a heartbeat if asked and nothing is waiting); `Ok(true)`
    /// if a request was acknowledged.
    pub(crate) async fn flush(&self, heartbeat: bool) -> Result<bool, SendError> {
        let mut sent_any = false;
        loop {
            let mut rows = self
                .journal
                .unsent(BATCH)
                .await
                .map_err(|e| SendError::Retry(e.to_string()))?;
            let full = rows.len() == BATCH as usize || cut_to_bytes(&mut rows);
            if rows.is_empty() && (sent_any || !heartbeat) {
                return Ok(sent_any);
            }
            let mut events: Vec<Event> = Vec::with_capacity(rows.len());
            let mut unreadable = Vec::new();
            for row in &rows {
                match row.to_event() {
                    Ok(e) => events.push(e),
                    Err(why) => {
                        // Kept from being resent forever, but said loudly: never dropped in silence.
                        tracing::error!(event = %row.id, kind = %row.kind, error = %why, "outbox event cannot be sent; skipped");
                        unreadable.push(row.id.clone());
                    }
                }
            }
            let ack = match self.post(events.clone()).await {
                Err(SendError::Poison(why)) => self.one_by_one(events, &why).await?,
                other => other?,
            };
            unreadable.extend(ack.accepted);
            self.journal
                .mark_sent(&unreadable)
                .await
                .map_err(|e| SendError::Retry(e.to_string()))?;
            sent_any = true;
            if !full {
                return Ok(true);
            }
        }
    }

    async fn post(&self, events: Vec<Event>) -> Result<EventAck, SendError> {
        let token = tokio::fs::read_to_string(&self.server.token_file)
            .await
            .map_err(|e| {
                SendError::Rejected(format!(
                    "token file {}: {e}",
                    self.server.token_file.display()
                ))
            })?;
        let queue = self.journal.count_pending().await.ok();
        let batch = EventBatch {
            agent: self.agent.clone(),
            host: self.host.clone(),
            queue,
            events,
        };
        let url = format!("{}/api/events", self.server.url.trim_end_matches('/'));
        let response = self
            .client
            .post(&url)
            .bearer_auth(token.trim())
            .json(&batch)
            .send()
            .await
            .map_err(|e| SendError::Retry(format!("{url}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return response
                .json::<EventAck>()
                .await
                .map_err(|e| SendError::Retry(format!("{url}: unreadable answer: {e}")));
        }
        let body = response.text().await.unwrap_or_default();
        let why = format!("{url}: HTTP {status}: {}", body.trim());
        Err(classify(status.as_u16(), why))
    }

    /// After a batch was refused for its content: each event alone, so only those the server
    /// refuses by themselves are set aside (kept in the outbox with its reason, never resent)
    /// and the others go through.
    async fn one_by_one(&self, events: Vec<Event>, batch_why: &str) -> Result<EventAck, SendError> {
        let mut ack = EventAck {
            accepted: Vec::new(),
            new: 0,
        };
        if events.len() > 1 {
            tracing::warn!(server = %self.server.url, error = %batch_why, events = events.len(), "the central server refused a batch; sending its events one by one");
        }
        for event in events {
            let id = event.id.clone();
            match self.post(vec![event]).await {
                Ok(one) => {
                    ack.accepted.extend(one.accepted);
                    ack.new += one.new;
                }
                Err(SendError::Poison(why)) => {
                    tracing::error!(server = %self.server.url, event = %id, error = %why, "the central server rejected an event; it is kept in the journal and not resent");
                    self.journal
                        .mark_rejected(std::slice::from_ref(&id), &why)
                        .await
                        .map_err(|e| SendError::Retry(e.to_string()))?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(ack)
    }
}

/// What an HTTP error status means for the events sent: 5xx, 408 and 429 pass with time; 400,
/// 413 and 422 say the batch itself is wrong; any other 4xx (401, 403, 404) refuses the agent
/// as configured, whatever it sends.
fn classify(status: u16, why: String) -> SendError {
    match status {
        500..=599 | 408 | 429 => SendError::Retry(why),
        400 | 413 | 422 => SendError::Poison(why),
        _ => SendError::Rejected(why),
    }
}

#[cfg(test)]
mod tests {
    use super::{BATCH_BYTES, SendError, classify, cut_to_bytes};

    fn row(bytes: usize) -> scopeflow_journal::OutboxEvent {
        scopeflow_journal::OutboxEvent {
            id: String::new(),
            kind: "processed".into(),
            payload: "x".repeat(bytes),
            created_at: String::new(),
            sent_at: None,
        }
    }

    #[test]
    fn batches_stop_before_the_byte_budget() {
        let mut rows: Vec<_> = (0..10).map(|_| row(BATCH_BYTES / 4)).collect();
        assert!(cut_to_bytes(&mut rows));
        assert_eq!(rows.len(), 4);
        let mut small: Vec<_> = (0..10).map(|_| row(100)).collect();
        assert!(!cut_to_bytes(&mut small));
        assert_eq!(small.len(), 10);
        // One event over the budget still goes, alone.
        let mut huge = vec![row(BATCH_BYTES + 1), row(1)];
        assert!(cut_to_bytes(&mut huge));
        assert_eq!(huge.len(), 1);
    }

    #[test]
    fn statuses() {
        let kind = |s| match classify(s, String::new()) {
            SendError::Retry(_) => "retry",
            SendError::Rejected(_) => "rejected",
            SendError::Poison(_) => "poison",
        };
        assert_eq!(kind(503), "retry");
        assert_eq!(kind(429), "retry");
        assert_eq!(kind(408), "retry");
        assert_eq!(kind(400), "poison");
        assert_eq!(kind(413), "poison");
        assert_eq!(kind(401), "rejected");
        assert_eq!(kind(404), "rejected");
    }
}
