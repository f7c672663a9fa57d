//! Unit symbols as microscopy files write them, mapped to the UDUNITS-2 names NGFF requires.
//!
//! Files spell the same unit many ways (OME writes `µm` with either micro sign, ImageJ writes
//! `micron` or the literal six characters `\u00B5m`), while NGFF accepts exactly one name per
//! unit. Anything not recognised maps to `None`, so that a caller writes no unit rather than a
//! wrong one.

/// NGFF (UDUNITS-2) name of a length or time unit, or `None` when the symbol is unknown.
///
/// Matching ignores surrounding whitespace; symbols are case-sensitive where case carries
/// meaning (`m` metre vs `M`, `mm` vs `Mm`), while spelled-out words are matched in any case.
pub fn ngff_unit(symbol: &str) -> Option<&'static str> {
    let s = symbol.trim();
    if s.is_empty() {
        return None;
    }
    // Symbols first: their case matters (`m` is metre, `M` would be mega-something).
    let by_symbol = match s {
        "\u{b5}m" | "\u{3bc}m" | "um" | "\\u00B5m" | "\\u00b5m" | "\\u03BCm" | "\\u03bcm" => {
            Some("micrometer")
        }
        "nm" => Some("nanometer"),
        "mm" => Some("millimeter"),
        "cm" => Some("centimeter"),
        "m" => Some("meter"),
        "\u{c5}" | "\u{212b}" => Some("angstrom"),
        "pm" => Some("picometer"),
        "in" => Some("inch"),
        "s" => Some("second"),
        "ms" => Some("millisecond"),
        "\u{b5}s" | "\u{3bc}s" | "us" | "\\u00B5s" | "\\u00b5s" => Some("microsecond"),
        "ns" => Some("nanosecond"),
        "min" => Some("minute"),
        "h" => Some("hour"),
        _ => None,
    };
    if by_symbol.is_some() {
        return by_symbol;
    }
    // Words (ImageJ `micron`, `sec`; NGFF names themselves): case is not meaningful.
    let lower = s.to_lowercase();
    Some(match lower.as_str() {
        "micron" | "microns" | "micrometer" | "micrometre" | "micrometers" | "micrometres" => {
            "micrometer"
        }
        "nanometer" | "nanometre" | "nanometers" | "nanometres" => "nanometer",
        "millimeter" | "millimetre" | "millimeters" | "millimetres" => "millimeter",
        "centimeter" | "centimetre" | "centimeters" | "centimetres" => "centimeter",
        "meter" | "metre" | "meters" | "metres" => "meter",
        "angstrom" | "angstroms" | "\u{e5}ngstr\u{f6}m" => "angstrom",
        "picometer" | "picometre" | "picometers" | "picometres" => "picometer",
        "inch" | "inches" => "inch",
        "sec" | "secs" | "second" | "seconds" => "second",
        "msec" | "millisecond" | "milliseconds" => "millisecond",
        "microsecond" | "microseconds" => "microsecond",
        "nanosecond" | "nanoseconds" => "nanosecond",
        "minute" | "minutes" => "minute",
        "hr" | "hour" | "hours" => "hour",
        _ => return None,
    })
}

/// Whether an NGFF unit name measures time (so it belongs on a `t` axis, not a spatial one).
pub fn is_time_unit(ngff: &str) -> bool {
    matches!(
        ngff,
        "second" | "millisecond" | "microsecond" | "nanosecond" | "minute" | "hour"
    )
}
