//! Cross-check against the Python reference (`make_samples.ChannelStats`), through fixtures
//! written by `tests/fixtures/gen_reference.py`.

use std::path::PathBuf;

use scopeflow_core::{ChannelQc, DType};
use scopeflow_qc::ChannelAccumulator;
use serde_json::Value;

use crate::util::close;

struct Case {
    name: String,
    dtype: DType,
    bytes: Vec<u8>,
    expected: serde_json::Map<String, Value>,
}

fn fixtures() -> Vec<Case> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("reference.json")).expect("reference.json");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_owned(),
            dtype: DType::from_name(c["dtype"].as_str().unwrap()).expect("dtype"),
            bytes: std::fs::read(dir.join(c["file"].as_str().unwrap())).expect("fixture .bin"),
            expected: c["expected"].as_object().unwrap().clone(),
        })
        .collect()
}

/// Every figure the reference gives must be there and agree to `rel`; ones it omits (a class
/// is empty) must be absent or consistent, which `finish`'s own tests cover.
fn check(case: &Case, qc: &ChannelQc, rel: f64, what: &str) {
    let got = serde_json::to_value(qc).unwrap();
    for (key, want) in &case.expected {
        let have = &got[key];
        let ok = match (want.as_f64(), have.as_f64()) {
            (Some(w), Some(h)) => close(w, h, rel),
            (None, None) => want.is_null() && have.is_null(),
            _ => false,
        };
        assert!(
            ok,
            "{} ({what}): {key}: reference {want}, got {have}",
            case.name
        );
    }
}

#[test]
fn matches_python_reference() {
    let cases = fixtures();
    assert!(cases.len() >= 10);
    for case in &cases {
        let mut acc = ChannelAccumulator::new(case.dtype);
        acc.add(&case.bytes);
        check(case, &acc.finish(0, None), 1e-9, "one accumulator");
    }
}

#[test]
fn matches_python_reference_when_split_across_threads() {
    for case in &fixtures() {
        let size = case.dtype.size();
        let px = case.bytes.len() / size;
        let cuts = [0, px / 7, px / 2, px * 5 / 6, px];
        let mut total = ChannelAccumulator::new(case.dtype);
        for w in cuts.windows(2) {
            let mut part = ChannelAccumulator::new(case.dtype);
            part.add(&case.bytes[w[0] * size..w[1] * size]);
            total.merge(&part);
        }
        check(case, &total.finish(0, None), 1e-9, "merged bands");
    }
}

#[test]
fn matches_python_reference_as_interleaved_sample() {
    // Embed each fixture as sample 1 of 3, the others garbage.
    for case in &fixtures() {
        let size = case.dtype.size();
        let mut rgb = Vec::with_capacity(case.bytes.len() * 3);
        for (i, px) in case.bytes.chunks_exact(size).enumerate() {
            rgb.extend(std::iter::repeat_n((i % 251) as u8, size));
            rgb.extend_from_slice(px);
            rgb.extend(std::iter::repeat_n(0xFF, size));
        }
        let mut acc = ChannelAccumulator::new(case.dtype);
        acc.add_interleaved(&rgb, 1, 3);
        check(case, &acc.finish(0, None), 1e-9, "interleaved");
    }
}

#[test]
fn bounded_memory_fallback_stays_close_to_reference() {
    // A cap far below the fixtures' distinct values forces the grid for 32-bit and float data.
    for case in fixtures()
        .iter()
        .filter(|c| matches!(c.dtype.size(), 4 | 8))
    {
        let mut acc = ChannelAccumulator::with_distinct_cap(case.dtype, 64);
        acc.add(&case.bytes);
        let qc = acc.finish(0, None);
        for key in ["count", "min", "max", "mean", "saturation_fraction"] {
            let (w, h) = (
                &case.expected[key],
                &serde_json::to_value(&qc).unwrap()[key],
            );
            assert!(
                close(w.as_f64().unwrap(), h.as_f64().unwrap(), 1e-9),
                "{}: {key} {w} vs {h}",
                case.name
            );
        }
        if let Some(want) = case.expected["snr"].as_f64() {
            let got = qc.snr.expect("snr");
            assert!(
                close(want, got, 1e-3),
                "{}: snr {want} vs {got} on the grid",
                case.name
            );
        }
    }
}
