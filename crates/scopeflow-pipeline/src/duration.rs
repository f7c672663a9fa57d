//! Durations as operators write them: `30s`, `5m`, `12h`, `60d`, `500ms`, or pieces run
//! together like `1h30m`. Whole numbers only, so a value always reads back the same.

use std::time::Duration;

const UNITS: &str = "ms, s, m, h or d";

/// Parses `30s`, `5m`, `12h`, `60d`, `0s`, `500ms` or a sum such as `1h30m`.
///
/// # Errors
/// A message meant for the operator: what is wrong with the text and what would be accepted.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err(format!(
            "empty duration: expected a number and a unit ({UNITS}), like 30s"
        ));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(no_number(s, rest));
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.len()
            - tail
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let (unit, tail) = tail.split_at(unit_len);
        if unit.is_empty() && !tail.is_empty() {
            return Err(no_number(s, tail));
        }
        let piece = amount(s, number, unit)?;
        total = total
            .checked_add(piece)
            .ok_or_else(|| format!("duration `{s}` is too long"))?;
        rest = tail;
    }
    Ok(total)
}

fn no_number(whole: &str, rest: &str) -> String {
    if rest.starts_with('-') {
        format!("duration `{whole}` is negative")
    } else if rest.starts_with(' ') {
        format!(
            "duration `{whole}` has a space: write the number and one unit ({UNITS}) together, like 30s"
        )
    } else if rest.starts_with('.') || rest.starts_with(',') {
        format!("duration `{whole}` is not whole: use a smaller unit, like 90m for 1.5h")
    } else {
        format!("`{whole}` is not a duration: expected a number and a unit ({UNITS}), like 30s")
    }
}

fn amount(whole: &str, number: &str, unit: &str) -> Result<Duration, String> {
    let too_long = || format!("duration `{whole}` is too long");
    let n: u64 = number.parse().map_err(|_| too_long())?;
    let seconds_per = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => {
            return Err(format!(
                "duration `{whole}` has no unit: write {number}s, {number}m, {number}h or {number}d"
            ));
        }
        other => {
            return Err(format!(
                "duration `{whole}` has an unknown unit `{other}`: use {UNITS}"
            ));
        }
    };
    n.checked_mul(seconds_per)
        .map(Duration::from_secs)
        .ok_or_else(too_long)
}

/// The shortest text that [`parse_duration`] reads back as `d` (below a millisecond is
/// dropped), for messages and for writing a pipeline back out.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    if ms > 0 {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration("30s"), Ok(secs(30)));
        assert_eq!(parse_duration("5m"), Ok(secs(300)));
        assert_eq!(parse_duration("12h"), Ok(secs(12 * 3600)));
        assert_eq!(parse_duration("60d"), Ok(secs(60 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_duration("1m500ms"), Ok(Duration::from_millis(60_500)));
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        let err = |s: &str| parse_duration(s).unwrap_err();
        assert!(err("").contains("empty duration"), "{}", err(""));
        assert!(
            err("5").contains("no unit: write 5s, 5m, 5h or 5d"),
            "{}",
            err("5")
        );
        assert!(err("5x").contains("unknown unit `x`"), "{}", err("5x"));
        assert!(err("5 s").contains("has a space"), "{}", err("5 s"));
        assert!(err("1.5h").contains("not whole"), "{}", err("1.5h"));
        assert!(err("-5s").contains("negative"), "{}", err("-5s"));
        assert!(err("s").contains("not a duration"), "{}", err("s"));
        assert!(err("5S").contains("unknown unit `S`"), "{}", err("5S"));
        assert!(err("99999999999999999999d").contains("too long"));
        assert!(err("213503982334602d").contains("too long"));
        assert!(err("5s ").contains("space"), "{}", err("5s "));
    }

    #[test]
    fn format_reads_back() {
        for text in [
            "0s",
            "30s",
            "5m",
            "12h",
            "60d",
            "500ms",
            "1h30m",
            "1d1h1m1s1ms",
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}
