//! Alarms by e-mail: SMTP, upgraded with STARTTLS unless the pipeline says the relay has none,
//! with a login read from the environment variables the pipeline names.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use scopeflow_pipeline::EmailSettings;
use serde_json::Value;

pub(super) async fn send(s: &EmailSettings, body: &Value) -> Result<(), String> {
    let server = format!("smtp {}:{}", s.host, s.port);
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("{server}: address {a:?}: {e}"))
    };
    let text = body["text"].as_str().unwrap_or_default();
    let subject = format!(
        "QC alarm: {} {} ({})",
        body["instrument"].as_str().unwrap_or_default(),
        body["file"].as_str().unwrap_or_default(),
        body["rule"].as_str().unwrap_or_default()
    );
    let mut message = Message::builder().from(mailbox(&s.from)?).subject(subject);
    for to in &s.to {
        message = message.to(mailbox(to)?);
    }
    let details = serde_json::to_string_pretty(body).unwrap_or_default();
    let message = message
        .body(format!("{text}\n\n{details}\n"))
        .map_err(|e| format!("{server}: cannot build the message: {e}"))?;
    let mut transport = if s.starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| format!("{server}: {e}"))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
    }
    .port(s.port);
    if let (Some(user), Some(password)) = (&s.username_env, &s.password_env) {
        let read = |name: &str| {
            std::env::var(name)
                .map_err(|_| format!("{server}: environment variable {name} is not set"))
        };
        transport = transport.credentials(Credentials::new(read(user)?, read(password)?));
    }
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("{server}: {e}"))
}
