//! Thumbnails (issue 15): `scopeflow convert` writes `NAME.png` beside `NAME.ome.zarr`, and the
//! agent delivers `qc/STEM.png` beside `qc/STEM.json`, listed in the manifest. Each PNG is
//! checked against a composite numpy and Pillow compute from the OME-Zarr's lowest level with
//! zarr, following README "Thumbnails" step by step.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// Prints `{"width", "height", "ref_width", "ref_height", "max_diff", "lit"}` for the PNG ARGV[2]
/// against the composite of the OME-Zarr image ARGV[1] (NGFF 0.5 or 0.4, a plain image).
const REFERENCE: &str = r#"
import json, sys
import numpy as np
import zarr
from PIL import Image

root = zarr.open_group(sys.argv[1], mode="r")
attrs = dict(root.attrs)
ome = attrs.get("ome", attrs)
ms = ome["multiscales"][0]
axes = [a["name"] for a in ms["axes"]]
data = np.asarray(root[ms["datasets"][-1]["path"]][...], dtype=np.float64)
if "t" in axes:
    data = np.take(data, 0, axis=axes.index("t"))
    axes.remove("t")
if "c" not in axes:
    data = data[np.newaxis]
    axes.insert(0, "c")
if "z" not in axes:
    data = data[:, np.newaxis]
c, z, h, w = data.shape
f = max(1, -(-max(h, w) // 256))
th, tw = -(-h // f), -(-w // f)
pad = np.full((c, z, th * f, tw * f), np.nan)
pad[:, :, :h, :w] = data
boxes = np.nanmean(pad.reshape(c, z, th, f, tw, f), axis=(3, 5))
mip = boxes.max(axis=1)
acc = np.zeros((th, tw, 3))
for values, ch in zip(mip, ome["omero"]["channels"]):
    if ch.get("active") is False:
        continue
    colour = np.array([int(ch["color"][i:i + 2], 16) / 255 for i in (0, 2, 4)])
    lo, hi = ch["window"]["start"], ch["window"]["end"]
    if hi > lo:
        s = np.clip((values - lo) / (hi - lo), 0, 1)
    else:
        s = (values > lo).astype(float)
    acc += np.nan_to_num(s)[..., np.newaxis] * colour
ref = np.round(np.clip(acc, 0, 1) * 255)
png = Image.open(sys.argv[2])
got = np.asarray(png.convert("RGB"), dtype=np.float64)
same = got.shape == ref.shape
print(json.dumps({
    "mode": png.mode,
    "width": png.width, "height": png.height, "ref_width": tw, "ref_height": th,
    "level_width": w, "level_height": h,
    "max_diff": float(np.abs(got - ref).max()) if same else None,
    "lit": float((got.max(axis=2) > 16).mean()),
}))
"#;

/// The reference's verdict on `png` as the thumbnail of `zarr`.
fn compare(zarr: &Path, png: &Path) -> Value {
    let r = python(args!["-c", REFERENCE, zarr, png]).success();
    r.stdout_json()
}

/// `lit`: the least fraction of pixels brighter than 16 (synthetic samples are sparse spots on a
/// dark field, windowed min..max as the omero metadata says).
fn check(zarr: &Path, png: &Path, what: &str, lit: f64) {
    let v = compare(zarr, png);
    let num = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("{what}: {k} in {v}"))
    };
    assert_eq!(v["mode"], "RGB", "{what}: {v}");
    assert!(
        num("width").max(num("height")) <= 256.0,
        "{what}: longer side over 256: {v}"
    );
    assert_eq!(
        (num("width"), num("height")),
        (num("ref_width"), num("ref_height")),
        "{what}: {v}"
    );
    // The lowest level's aspect ratio, within the one pixel the box grid rounds up.
    let aspect = num("level_width") / num("level_height");
    let got = num("width") / num("height");
    assert!(
        (got - aspect).abs() <= aspect / num("height").min(num("width")) + 1e-9,
        "{what}: aspect {got} vs the level's {aspect}: {v}"
    );
    assert!(
        num("max_diff") <= 1.0,
        "{what}: differs from the reference composite: {v}"
    );
    assert!(num("lit") > lit, "{what}: nearly blank: {v}");
}

fn convert_and_check(dir: &Dir, sample: &Sample, extra: &[&str]) {
    let lit = if sample.origin == Origin::Real {
        0.05
    } else {
        0.001
    };
    let out = dir.join("out.ome.zarr");
    let mut a = args!["convert", sample.path(), &out, "--json", "--quiet"];
    a.extend(extra.iter().map(Into::into));
    let doc = scopeflow(a).success().stdout_json();
    let png = dir.join("out.png");
    assert_eq!(
        doc["thumbnail"].as_str().map(Path::new),
        Some(png.as_path()),
        "{doc}"
    );
    check(&out, &png, sample.file, lit);
}

sftest!(convert_thumbnail_real_three_channels, |dir: Dir| {
    convert_and_check(&dir, &REAL_BBBC022, &[]);
});

sftest!(convert_thumbnail_czyx_max_over_z, |dir: Dir| {
    convert_and_check(&dir, &SYNTH_B, &[]);
});

sftest!(convert_thumbnail_first_time_point_ngff_04, |dir: Dir| {
    convert_and_check(&dir, &SYNTH_C, &["--ngff", "0.4"]);
});

sftest!(convert_thumbnail_of_a_deep_level_is_reduced, |dir: Dir| {
    // One level only: the full-resolution plane is boxed down to 256 pixels.
    convert_and_check(&dir, &REAL_LARGEIMG, &["--levels", "1"]);
});

sftest!(
    convert_refuses_to_replace_a_png_without_overwrite,
    |dir: Dir| {
        let png = dir.create("out.png", "mine");
        let out = dir.join("out.ome.zarr");
        let r = scopeflow(args!["convert", REAL_BBBC022.path(), &out]).exit(2);
        assert!(r.stderr.contains("out.png"), "{r}");
        assert_eq!(std::fs::read(&png).unwrap(), b"mine");
        assert!(!out.exists());
        scopeflow(args![
            "convert",
            REAL_BBBC022.path(),
            &out,
            "--overwrite",
            "--quiet"
        ])
        .success();
        check(&out, &png, "after --overwrite", 0.05);
    }
);

sftest!(agent_delivers_the_thumbnail_in_the_manifest, |dir: Dir| {
    let acq = dir.mkdir("acq");
    let nas = dir.mkdir("nas");
    std::fs::copy(REAL_BBBC022.path(), acq.join("well_A02.tif")).unwrap();
    let config = dir.create(
        "p.yaml",
        "version: 1\nname: t\nwatch:\n  - path: acq\n    settle: 1s\n\
         state: .scopeflow/state.db\n\
         destinations:\n  - name: nas\n    kind: local\n    path: nas\n",
    );
    scopeflow(args!["agent", "--config", &config, "--once"]).success();
    let png = nas.join("qc/well_A02.png");
    check(
        &nas.join("ome-zarr/well_A02.ome.zarr"),
        &png,
        "delivered",
        0.05,
    );
    let manifest = std::fs::read_to_string(nas.join("manifest-sha256.txt")).unwrap();
    let line = format!("{}  qc/well_A02.png", sha256_file(&png));
    assert!(
        manifest.lines().any(|l| l == line),
        "no `{line}` in\n{manifest}"
    );
    let out = Command::new("sha256sum")
        .args(["--quiet", "--strict", "-c", "manifest-sha256.txt"])
        .current_dir(&nas)
        .output()
        .expect("sha256sum");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // No `server:` section: the `processed` event waits in the journal without the thumbnail,
    // which would otherwise stay there for good at about 100 KiB a file.
    let events = python([
        "-c",
        "import json, sqlite3, sys\n\
         db = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)\n\
         print(json.dumps([json.loads(p) for (p,) in \
               db.execute(\"SELECT payload FROM outbox WHERE kind = 'processed'\")]))",
        dir.join(".scopeflow/state.db").to_str().unwrap(),
    ])
    .success()
    .stdout_json();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0]["data"]["qc"].is_object(), "{}", events[0]);
    assert!(
        events[0]["data"].get("thumbnail").is_none(),
        "thumbnail kept without a server; data holds {:?}",
        events[0]["data"]
            .as_object()
            .map(|o| o.keys().collect::<Vec<_>>())
    );
});
