//! `scopeflow qc FILE --json` against each sample's `.truth.json` `channels[*]`.

use serde_json::Value;

use crate::util::*;

/// Relative tolerance for the QC figures (the definitions in make_samples.py's docstring).
const QC_REL: f64 = 1e-3;

fn check_qc(_dir: &Dir, sample: &Sample) {
    let truth = sample.truth();
    let run = scopeflow(args!["qc", sample.path(), "--json"]).success();
    let doc = run.stdout_json();
    let mut p = Problems::new();
    check_against_truth(&mut p, &doc, &truth);
    p.finish(&run);
}

/// Compares one `qc --json` document with the truth (also used for the provenance of `convert`).
pub fn check_against_truth(p: &mut Problems, doc: &Value, truth: &Value) {
    let Some(got) = doc.get("channels").and_then(Value::as_array) else {
        p.push(format!("`channels` is not an array in {doc}"));
        return;
    };
    let want = truth["channels"].as_array().expect("truth has channels");
    p.check(got.len() == want.len(), || {
        format!("{} channels, expected {}", got.len(), want.len())
    });
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        p.check(g.get("index") == Some(&Value::from(i)), || {
            format!(
                "channels[{i}].index: got {}, expected {i}",
                show(g.get("index"))
            )
        });
        p.check(g.get("name") == Some(&w["name"]), || {
            format!(
                "channels[{i}].name: got {}, expected {}",
                show(g.get("name")),
                w["name"]
            )
        });
        for key in ["snr", "saturation_fraction", "otsu_threshold"] {
            match g.get(key) {
                Some(gv) => check_number(p, &format!("channels[{i}].{key}"), gv, &w[key], QC_REL),
                None => p.push(format!("channels[{i}].{key} is missing")),
            }
        }
        for key in ["min", "max", "mean"] {
            p.check(g.get(key).is_some_and(Value::is_number), || {
                format!(
                    "channels[{i}].{key}: got {}, expected a number",
                    show(g.get(key))
                )
            });
        }
        if let (Some(lo), Some(mean), Some(hi)) = (num(g, "min"), num(g, "mean"), num(g, "max")) {
            p.check(lo <= mean && mean <= hi, || {
                format!("channels[{i}]: expected min <= mean <= max, got {lo}, {mean}, {hi}")
            });
        }
    }
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "<missing>".to_string(), Value::to_string)
}

for_each_sample!(check_qc);
