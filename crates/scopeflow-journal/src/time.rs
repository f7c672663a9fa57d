//! One timestamp format everywhere, because the SQL compares timestamps as text.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeDelta, Utc};

pub(crate) fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Normalises a caller's RFC 3339 timestamp (any offset, any precision) to the stored format.
pub(crate) fn normalise(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| fmt(t.with_timezone(&Utc)))
}

/// `t + d`, saturating at the end of year 9999: a huge delay only needs to mean "very late",
/// and later years would print with a sign or a fifth digit and break the text order.
pub(crate) fn after(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    let last = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc());
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .map_or(last, |t| t.min(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_fixed_width_utc_millis() {
        let t = DateTime::parse_from_rfc3339("2026-08-01T14:00:00+02:00").unwrap();
        assert_eq!(fmt(t.with_timezone(&Utc)), "2026-08-01T12:00:00.000Z");
        assert_eq!(
            normalise("2026-08-01T12:00:00.123456+00:00").as_deref(),
            Some("2026-08-01T12:00:00.123Z")
        );
        assert_eq!(normalise("yesterday"), None);
    }

    #[test]
    fn huge_delay_saturates() {
        let t = now();
        assert_eq!(
            fmt(after(t, std::time::Duration::MAX)),
            "9999-12-31T23:59:59.999Z"
        );
        let years = std::time::Duration::from_secs(20_000 * 365 * 86_400);
        assert_eq!(fmt(after(t, years)), "9999-12-31T23:59:59.999Z");
    }
}
