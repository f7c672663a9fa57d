use chrono::{SecondsFormat, Utc};

/// Receipts and verifications are stamped in RFC 3339 UTC, the form the journal and the server store.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}
