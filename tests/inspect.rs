//! `scopeflow inspect FILE --json` against each sample's `.truth.json`.

use serde_json::Value;

use crate::util::*;

/// Keys CLI.md fixes for `inspect --json`.
const CONTRACT_KEYS: [&str; 10] = [
    "format",
    "axes",
    "shape",
    "dtype",
    "physical_sizes",
    "physical_unit",
    "channel_names",
    "acquired_at",
    "instrument",
    "metadata",
];

/// Relative tolerance for physical sizes.
const PHYS_REL: f64 = 1e-3;

fn check_inspect(_dir: &Dir, sample: &Sample) {
    let truth = sample.truth();
    let run = scopeflow(args!["inspect", sample.path(), "--json"]).success();
    let doc = run.stdout_json();
    let mut p = Problems::new();
    check_against_truth(&mut p, &doc, &truth, sample);
    p.finish(&run);
}

/// Compares one `inspect --json` document with the truth (also used by `convert`'s checks).
pub fn check_against_truth(p: &mut Problems, doc: &Value, truth: &Value, sample: &Sample) {
    let Some(obj) = doc.as_object() else {
        p.push(format!("the document is not a JSON object: {doc}"));
        return;
    };
    for key in CONTRACT_KEYS {
        p.check(obj.contains_key(key), || format!("key `{key}` is missing"));
    }
    match (sample.format, doc.get("format")) {
        (Some(want), Some(got)) => p.check(got == want, || {
            format!("format: got {got}, expected \"{want}\"")
        }),
        (None, Some(got)) => p.check(got.as_str().is_some_and(|s| !s.is_empty()), || {
            format!("format: got {got}, expected a non-empty string")
        }),
        (_, None) => {}
    }
    for key in ["axes", "shape", "dtype"] {
        p.check(doc.get(key) == truth.get(key), || {
            format!("{key}: got {}, expected {}", show(doc.get(key)), truth[key])
        });
    }
    check_physical_sizes(p, doc.get("physical_sizes"), &truth["physical_sizes"]);
    p.check(
        doc.get("physical_unit") == Some(&truth["physical_unit"]),
        || {
            format!(
                "physical_unit: got {}, expected {}",
                show(doc.get("physical_unit")),
                truth["physical_unit"]
            )
        },
    );
    p.check(
        doc.get("channel_names") == Some(&truth["channel_names"]),
        || {
            format!(
                "channel_names: got {}, expected {}",
                show(doc.get("channel_names")),
                truth["channel_names"]
            )
        },
    );
    if let Some(at) = doc.get("acquired_at") {
        p.check(at.is_null() || at.is_string(), || {
            format!("acquired_at: got {at}, expected a string or null")
        });
    }
    if let Some(md) = doc.get("metadata") {
        p.check(md.is_object() || md.is_null(), || {
            format!("metadata: got {md}, expected an object")
        });
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "<missing>".to_string(), Value::to_string)
}

fn check_physical_sizes(p: &mut Problems, got: Option<&Value>, want: &Value) {
    let Some(got) = got else { return }; // reported as a missing key
    match (got, want) {
        (Value::Null, Value::Null) => {}
        (g, Value::Null) => p.push(format!("physical_sizes: got {g}, expected null")),
        (Value::Object(g), Value::Object(w)) => {
            let mut gk: Vec<&String> = g.keys().collect();
            let mut wk: Vec<&String> = w.keys().collect();
            gk.sort();
            wk.sort();
            p.check(gk == wk, || {
                format!("physical_sizes: got axes {gk:?}, expected {wk:?} ({got} vs {want})")
            });
            for (axis, wv) in w {
                if let Some(gv) = g.get(axis) {
                    check_number(p, &format!("physical_sizes.{axis}"), gv, wv, PHYS_REL);
                }
            }
        }
        (g, w) => p.push(format!("physical_sizes: got {g}, expected {w}")),
    }
}

for_each_sample!(check_inspect);

// Every real TIFF with a truth file is in `for_each_sample!`, so a file added to
// shared/samples/real/ cannot go untested.
sftest!(every_real_sample_is_covered, |_dir: Dir| {
    let covered: Vec<&str> = ALL_SAMPLES
        .iter()
        .filter(|s| s.origin == Origin::Real)
        .map(|s| s.file)
        .collect();
    let mut missing = Vec::new();
    for name in list_dir(&real_samples_dir()) {
        if let Some(image) = name.strip_suffix(".truth.json")
            && !covered.contains(&image)
        {
            missing.push(image.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "real samples with a truth file that no test covers (add them to util.rs): {missing:?}"
    );
});
