use scopeflow_formats::units::{is_time_unit, ngff_unit};

#[test]
fn length_symbols_and_words() {
    for (symbol, ngff) in [
        ("\u{b5}m", "micrometer"),
        ("\u{3bc}m", "micrometer"),
        ("um", "micrometer"),
        ("micron", "micrometer"),
        ("microns", "micrometer"),
        ("Micron", "micrometer"),
        ("\\u00B5m", "micrometer"),
        ("nm", "nanometer"),
        ("mm", "millimeter"),
        ("cm", "centimeter"),
        ("m", "meter"),
        ("\u{c5}", "angstrom"),
        ("\u{212b}", "angstrom"),
        ("angstrom", "angstrom"),
        ("pm", "picometer"),
        ("in", "inch"),
        ("inch", "inch"),
        (" um ", "micrometer"),
    ] {
        assert_eq!(ngff_unit(symbol), Some(ngff), "{symbol:?}");
    }
}

#[test]
fn time_symbols_and_words() {
    for (symbol, ngff) in [
        ("s", "second"),
        ("sec", "second"),
        ("ms", "millisecond"),
        ("\u{b5}s", "microsecond"),
        ("\u{3bc}s", "microsecond"),
        ("min", "minute"),
        ("h", "hour"),
    ] {
        assert_eq!(ngff_unit(symbol), Some(ngff), "{symbol:?}");
        assert!(is_time_unit(ngff));
    }
    assert!(!is_time_unit("micrometer"));
}

#[test]
fn ngff_names_map_to_themselves() {
    for name in [
        "micrometer",
        "nanometer",
        "millimeter",
        "centimeter",
        "meter",
        "angstrom",
        "picometer",
        "inch",
        "second",
        "millisecond",
        "microsecond",
        "minute",
        "hour",
    ] {
        assert_eq!(ngff_unit(name), Some(name));
    }
}

#[test]
fn unknown_is_none() {
    for s in [
        "",
        "pixel",
        "pixels",
        "reference frame",
        "M",
        "MM",
        "furlong",
        "\\u00B5",
    ] {
        assert_eq!(ngff_unit(s), None, "{s:?}");
    }
}
