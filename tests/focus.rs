//! `qc --json`'s `focus` against a numpy reference, on a sharp sample and the same sample blurred,
//! and its `histogram` against `numpy.histogram` on 8-bit, 16-bit and float images.

use serde_json::Value;

use crate::util::*;

/// Writes `sharp.ome.tif` and `blurred.ome.tif` (Z=2, C=2, 300×257 uint16: planes taller than
/// one QC band, so the Laplacian crosses band edges) and prints each file's per-channel focus
/// as the README defines it.
const REFERENCE: &str = r#"
import json, sys
import numpy as np, tifffile

out = sys.argv[1]
rng = np.random.default_rng(15)
z, c, h, w = 2, 2, 300, 257
yy, xx = np.mgrid[0:h, 0:w]
sharp = np.empty((z, c, h, w), np.uint16)
for k in range(z):
    for ch in range(c):
        base = 400 + 300 * ch + 200 * np.sin(xx / (17 + k)) * np.cos(yy / 23)
        spots = (rng.random((h, w)) < 0.02) * rng.integers(500, 3000, (h, w))
        sharp[k, ch] = np.clip(base + spots + rng.normal(0, 20, (h, w)), 0, 65535).astype(np.uint16)

def box(plane, r=3):
    p = np.pad(plane.astype(np.float64), r, mode="edge")
    acc = np.zeros(plane.shape)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            acc += p[dy:dy + plane.shape[0], dx:dx + plane.shape[1]]
    return np.round(acc / (2 * r + 1) ** 2).astype(np.uint16)

blurred = np.stack([np.stack([box(sharp[k, ch]) for ch in range(c)]) for k in range(z)])

def focus(stack, ch):
    laps = []
    for k in range(stack.shape[0]):
        x = stack[k, ch].astype(np.float64)
        laps.append((x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4 * x[1:-1, 1:-1]).ravel())
    lap = np.concatenate(laps)
    return float(lap.var() / stack[:, ch].astype(np.float64).mean() ** 2)

result = {}
for name, stack in (("sharp", sharp), ("blurred", blurred)):
    tifffile.imwrite(f"{out}/{name}.ome.tif", stack, ome=True, metadata={"axes": "ZCYX"})
    result[name] = [focus(stack, ch) for ch in range(c)]

# The README's histogram: 64 bins over [min, max] of the channel's values as float64.
def hist(stack, ch):
    x = stack[:, ch].astype(np.float64)
    return np.histogram(x, bins=64, range=(float(x.min()), float(x.max())))[0].tolist()

eight = rng.integers(0, 256, (z, c, h, w)).astype(np.uint8)
floats = rng.normal(100, 25, (z, c, 40, 50)).astype(np.float32)
hists = {}
for name, stack in (("sharp", sharp), ("eight", eight), ("floats", floats)):
    if name != "sharp":
        tifffile.imwrite(f"{out}/{name}.ome.tif", stack, ome=True, metadata={"axes": "ZCYX"})
    hists[name] = [hist(stack, ch) for ch in range(c)]
result["histograms"] = hists
print(json.dumps(result))
"#;

fn focus_of(file: &std::path::Path) -> Vec<f64> {
    let doc = scopeflow(args!["qc", file, "--json"])
        .success()
        .stdout_json();
    doc["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| c["focus"].as_f64().expect("a focus number"))
        .collect()
}

sftest!(focus_matches_numpy_on_sharp_and_blurred, |dir: Dir| {
    let script = dir.create("reference.py", REFERENCE);
    let run = python(args![script, dir.path()]).success();
    let want: Value = serde_json::from_str(run.stdout_last_line().expect("reference output"))
        .expect("reference JSON");
    let mut p = Problems::new();
    let mut got_all = Vec::new();
    for name in ["sharp", "blurred"] {
        let got = focus_of(&dir.join(format!("{name}.ome.tif")));
        let want = want[name].as_array().expect("reference list");
        p.check(got.len() == want.len(), || {
            format!("{name}: {} channels, expected {}", got.len(), want.len())
        });
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let w = w.as_f64().expect("reference number");
            p.check(close(*g, w, 1e-3), || {
                format!("{name} channel {i}: focus {g}, numpy {w}")
            });
        }
        got_all.push(got);
    }
    for (i, (s, b)) in got_all[0].iter().zip(&got_all[1]).enumerate() {
        p.check(*s > 10.0 * b, || {
            format!("channel {i}: sharp focus {s} should far exceed blurred {b}")
        });
    }
    for (name, want) in want["histograms"].as_object().expect("histograms") {
        let doc = scopeflow(args!["qc", dir.join(format!("{name}.ome.tif")), "--json"])
            .success()
            .stdout_json();
        let got: Vec<&Value> = doc["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| &c["histogram"])
            .collect();
        let want: Vec<&Value> = want.as_array().expect("reference list").iter().collect();
        p.check(got == want, || {
            format!("{name}: histograms {got:?}, numpy {want:?}")
        });
    }
    p.finish(&run);
});
