//! Delivering journaled alarms: webhook (JSON POST), desktop (log line + native notification),
//! e-mail.

use std::sync::Arc;
use std::time::Duration;

use scopeflow_journal::{AlarmDelivery, Journal};
use scopeflow_pipeline::{Notify, Pipeline};
use serde_json::{Value, json};

/// Deliveries fetched per round.
const BATCH: u32 = 100;
/// First wait after a failed delivery, doubled after each further one up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// Even without a wake-up, deliveries whose back-off ended are tried this often.
const POLL: Duration = Duration::from_secs(1);

/// The journal's key of each notifier: its place in `qc.notify` and its kind.
pub(super) fn keys(notify: &[Notify]) -> Vec<String> {
    notify
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{i}:{}", n.kind()))
        .collect()
}

pub(crate) struct Notifier {
    journal: Journal,
    notify: Vec<Notify>,
    agent: String,
    server: Option<String>,
    client: reqwest::Client,
    wake: tokio::sync::Notify,
    /// Set by [`Notifier::stop`]: the loop ends after the delivery under way, never inside
    /// one (cancelling a send the receiver already took would send it again at the next try).
    stopping: std::sync::atomic::AtomicBool,
}

impl Notifier {
    /// `None` when the pipeline notifies nobody.
    pub(crate) fn new(pipeline: &Pipeline, journal: Journal) -> Result<Option<Arc<Self>>, String> {
        if pipeline.qc.notify.is_empty() {
            return Ok(None);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("qc.notify: cannot build an HTTP client: {e}"))?;
        Ok(Some(Arc::new(Notifier {
            journal,
            notify: pipeline.qc.notify.clone(),
            agent: pipeline.name.clone(),
            server: pipeline.server.as_ref().map(|s| s.url.clone()),
            client,
            wake: tokio::sync::Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        })))
    }

    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs until [`Notifier::stop`]; failures wait in the journal for their next try.
    pub(crate) async fn run(&self) {
        use std::sync::atomic::Ordering;
        while !self.stopping.load(Ordering::Acquire) {
            self.deliver_due().await;
            if self.stopping.load(Ordering::Acquire) {
                break;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Asks [`Notifier::run`] to end once the delivery under way is recorded.
    pub(crate) fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
        self.wake.notify_one();
    }

    pub(crate) async fn deliver_due(&self) -> usize {
        let due = match self.journal.due_deliveries(BATCH).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read alarm deliveries from the journal");
                return 0;
            }
        };
        let mut sent = 0;
        for d in due {
            let result = match self.notifier(&d.notifier) {
                Some(n) => self.send(n, &d).await,
                None => Err(format!(
                    "notifier {} is no longer in the pipeline's qc.notify",
                    d.notifier
                )),
            };
            let recorded = match &result {
                Ok(()) => {
                    sent += 1;
                    self.journal.delivery_sent(d.alarm_id, &d.notifier).await
                }
                Err(why) => {
                    let delay = BACKOFF
                        .saturating_mul(1 << d.attempts.min(16))
                        .min(MAX_BACKOFF);
                    tracing::warn!(notifier = %d.notifier, file = %d.rel, error = %why, retry_in_s = delay.as_secs(), "QC alarm not delivered");
                    self.journal
                        .delivery_failed(d.alarm_id, &d.notifier, why, delay)
                        .await
                }
            };
            if let Err(e) = recorded {
                tracing::error!(error = %e, "cannot record an alarm delivery in the journal");
            }
        }
        sent
    }

    /// The configured notifier a journal key names, if its kind still matches.
    fn notifier(&self, key: &str) -> Option<&Notify> {
        let (index, kind) = key.split_once(':')?;
        let n = self.notify.get(index.parse::<usize>().ok()?)?;
        (n.kind() == kind).then_some(n)
    }

    async fn send(&self, n: &Notify, d: &AlarmDelivery) -> Result<(), String> {
        let body = self.body(d);
        match n {
            Notify::Webhook { url } => self.post(url, &body).await,
            Notify::Desktop => {
                let title = format!("QC alarm: {}", d.rel);
                super::desktop::show(&title, body["text"].as_str().unwrap_or_default()).await;
                Ok(())
            }
            Notify::Email(settings) => super::email::send(settings, &body).await,
        }
    }

    async fn post(&self, url: &str, body: &Value) -> Result<(), String> {
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(format!(
            "{url}: HTTP {status}: {}",
            text.trim().chars().take(200).collect::<String>()
        ))
    }

    /// Slack and Mattermost show `text`; other receivers read the fields beside it.
    fn body(&self, d: &AlarmDelivery) -> Value {
        let a = &d.alarm;
        let channel = match &a.channel_name {
            Some(name) => format!("channel {} ({name})", a.channel),
            None => format!("channel {}", a.channel),
        };
        let figure = match a.rule.as_str() {
            "saturation_max" => "saturation",
            "snr_min" => "SNR",
            _ => "focus",
        };
        let relation = if a.rule.ends_with("_max") {
            "above"
        } else {
            "below"
        };
        let value = a
            .value
            .map_or_else(|| "none".to_owned(), |v| format!("{v:.6}"));
        let link = self.link(&d.rel);
        let mut text = format!(
            "QC alarm on {}: {} {channel}: {figure} {value} is {relation} the limit {} ({})",
            a.instrument, d.rel, a.threshold, a.rule
        );
        if let Some(l) = &link {
            text.push_str(&format!(" — {l}"));
        }
        json!({
            "text": text,
            "file": d.rel,
            "watch": d.watch,
            "version": d.version,
            "channel": a.channel,
            "channel_name": a.channel_name,
            "rule": a.rule,
            "value": a.value,
            "threshold": a.threshold,
            "instrument": a.instrument,
            "agent": self.agent,
            "at": d.created_at,
            "link": link,
        })
    }

    /// The server's file list narrowed to this file, when a server is configured.
    fn link(&self, rel: &str) -> Option<String> {
        let base = self.server.as_deref()?;
        let mut url =
            reqwest::Url::parse(&format!("{}/api/files", base.trim_end_matches('/'))).ok()?;
        url.query_pairs_mut()
            .append_pair("agent", &self.agent)
            .append_pair("q", rel);
        Some(url.to_string())
    }
}
