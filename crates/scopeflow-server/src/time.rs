//! Timestamps are stored as fixed-width RFC 3339 UTC text, so that comparing text compares time
//! on SQLite and PostgreSQL alike (the `Any` driver has no timestamp type).

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now() -> String {
    format(Utc::now())
}

pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Any RFC 3339 offset, normalised to UTC; `None` when it does not parse.
pub fn normalize(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| format(t.with_timezone(&Utc)))
}

/// A query bound (`from=`/`to=`): RFC 3339, or a bare date `YYYY-MM-DD` (start of that day, UTC).
pub fn bound(s: &str) -> Option<String> {
    normalize(s).or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| format(t.and_utc()))
    })
}

/// The hour bucket of a normalised timestamp: `YYYY-MM-DDTHH`.
pub fn hour(ts: &str) -> String {
    ts.get(..13).unwrap_or(ts).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_offsets_and_dates() {
        assert_eq!(
            normalize("2026-11-24T13:00:00+01:00").unwrap(),
            "2026-11-24T12:00:00.000Z"
        );
        assert!(normalize("yesterday").is_none());
        assert_eq!(bound("2026-11-24").unwrap(), "2026-11-24T00:00:00.000Z");
        assert_eq!(hour("2026-11-24T12:34:56.000Z"), "2026-11-24T12");
    }
}
