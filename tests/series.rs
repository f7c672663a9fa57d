//! Files with several series, end to end: a three-series OME-TIFF written by tifffile (series of
//! different sizes, dtypes and axes, one RGB) through `inspect`, `qc`, `convert` (every series
//! into a bioformats2raw-layout container, or `--series N` alone) and the agent. Every image is
//! checked pixel for pixel by `validate_omezarr.py --series N`, the container's root by
//! ome-zarr-models, and the figures against numpy and tifffile, never against our own output.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// Writes `multi.ome.tif` (three series) and `multi.json`: what tifffile and numpy say of each
/// series (axes, shape, dtype, name, per-channel min/max/mean) and the file's OME-XML.
const MAKE: &str = r#"
import json, sys
import numpy as np, tifffile
out, facts = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(20261204)
a = rng.integers(0, 4000, size=(2, 3, 150, 130), dtype=np.uint16)
a[0, 0, :4, :4] = 65535
b = (rng.random((4, 90, 70)) * 100).astype(np.float32)
c = rng.integers(0, 256, size=(61, 47, 3), dtype=np.uint8)
with tifffile.TiffWriter(out, ome=True) as tw:
    tw.write(a, metadata={"axes": "CZYX", "Name": "first", "Channel": {"Name": ["DAPI", "GFP"]},
                          "PhysicalSizeX": 0.25, "PhysicalSizeY": 0.25, "PhysicalSizeZ": 1.5})
    tw.write(b, metadata={"axes": "TYX", "Name": "second", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5})
    tw.write(c, photometric="rgb", metadata={"axes": "YXS", "Name": "third"})
def stats(arr, axis):
    arr = np.moveaxis(arr, axis, 0) if axis is not None else arr[None]
    return [{"min": float(x.min()), "max": float(x.max()), "mean": float(x.mean(dtype=np.float64))} for x in arr]
with tifffile.TiffFile(out) as tf:
    series = [{"axes": s.axes, "shape": list(s.shape), "dtype": str(s.dtype), "name": s.name}
              for s in tf.series]
    xml = tf.ome_metadata
series[0]["channels"] = stats(a, 0)
series[1]["channels"] = stats(b, None)
series[2]["channels"] = stats(c, 2)
json.dump({"series": series, "ome_xml": xml}, open(facts, "w"))
"#;

/// Root of a bioformats2raw container, checked by ome-zarr-models' own model of the layout.
const CHECK_ROOT: &str = r#"
import sys, zarr
from ome_zarr_models.v04.bioformats2raw import BioFormats2Raw as B04
from ome_zarr_models.v05.bioformats2raw import BioFormats2Raw as B05
path, ver = sys.argv[1], sys.argv[2]
g = zarr.open_group(path, mode="r")
m = (B05 if ver == "0.5" else B04).from_zarr(g)
print(",".join(sorted(m.images)))
print("root: OK")
"#;

struct Multi {
    file: PathBuf,
    facts: Value,
}

impl Multi {
    fn make(dir: &Dir) -> Multi {
        let file = dir.join("multi.ome.tif");
        let facts = dir.join("multi.json");
        python(args!["-c", MAKE, file, facts]).success();
        Multi {
            file,
            facts: read_json(&facts),
        }
    }

    fn series(&self) -> &[Value] {
        self.facts["series"].as_array().expect("series facts")
    }
}

/// Validates series `n` of `source` against `container/n`.
fn validate_series(container: &Path, source: &Path, n: usize) {
    let r = python(args![
        tool("validate_omezarr.py"),
        "--zarr",
        container,
        "--source",
        source,
        "--series",
        n.to_string()
    ]);
    assert!(
        r.status.success() && r.stdout_last_line() == Some("validate: OK"),
        "series {n} does not validate\n{r}"
    );
}

/// The root group's attributes, wherever the NGFF version keeps them.
fn root_attrs(root: &Path, ngff: &str) -> Value {
    if ngff == "0.5" {
        read_json(&root.join("zarr.json"))["attributes"].clone()
    } else {
        read_json(&root.join(".zattrs"))
    }
}

fn check_channels(p: &mut Problems, what: &str, got: &Value, want: &Value) {
    let (Some(got), Some(want)) = (got.as_array(), want.as_array()) else {
        p.push(format!("{what}: channels missing: {got} vs {want}"));
        return;
    };
    p.check(got.len() == want.len(), || {
        format!("{what}: {} channels, numpy has {}", got.len(), want.len())
    });
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for k in ["min", "max", "mean"] {
            check_number(p, &format!("{what} channel {i} {k}"), &g[k], &w[k], 1e-9);
        }
    }
}

fn check_container(dir: &Dir, multi: &Multi, ngff: &str) {
    let out = dir.join(format!("multi-{ngff}.ome.zarr"));
    let mut a = args!["convert", multi.file, out, "--chunk-yx", "32", "--json"];
    if ngff == "0.4" {
        a.extend(args!["--ngff", "0.4"]);
    }
    let report = scopeflow(a).success().stdout_json();
    let n = multi.series().len();
    for i in 0..n {
        validate_series(&out, &multi.file, i);
    }
    let root = python(args!["-c", CHECK_ROOT, out, ngff]).success();
    let images: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(
        root.stdout.lines().next(),
        Some(images.join(",").as_str()),
        "{root}"
    );

    let mut p = Problems::new();
    let attrs = root_attrs(&out, ngff);
    let layout = if ngff == "0.5" {
        &attrs["ome"]["bioformats2raw.layout"]
    } else {
        &attrs["bioformats2raw.layout"]
    };
    p.check(*layout == 3, || {
        format!("bioformats2raw.layout is {layout}")
    });
    let ome_group = if ngff == "0.5" {
        read_json(&out.join("OME/zarr.json"))["attributes"]["ome"]["series"].clone()
    } else {
        read_json(&out.join("OME/.zattrs"))["series"].clone()
    };
    p.check(ome_group == Value::from(images.clone()), || {
        format!("OME group series {ome_group}, expected {images:?}")
    });
    let xml = fs::read_to_string(out.join("OME/METADATA.ome.xml")).unwrap_or_default();
    p.check(
        xml == multi.facts["ome_xml"].as_str().unwrap_or("?"),
        || "OME/METADATA.ome.xml is not the file's OME-XML".into(),
    );
    let sf = &attrs["scopeflow"];
    let sha = sha256_file(&multi.file);
    p.check(sf["source"]["sha256"] == sha.as_str(), || {
        format!(
            "scopeflow.source.sha256 {} != {sha}",
            sf["source"]["sha256"]
        )
    });
    p.check(sf["parameters"]["chunk_yx"] == 32, || {
        format!("parameters {}", sf["parameters"])
    });
    for (i, want) in multi.series().iter().enumerate() {
        check_channels(
            &mut p,
            &format!("root qc series {i}"),
            &sf["qc"]["series"][i]["channels"],
            &want["channels"],
        );
        check_channels(
            &mut p,
            &format!("--json series {i}"),
            &report["series"][i]["qc"]["channels"],
            &want["channels"],
        );
        p.check(
            report["series"][i]["path"] == i.to_string().as_str(),
            || format!("--json series {i} path {}", report["series"][i]["path"]),
        );
    }
    check_channels(
        &mut p,
        "--json top-level qc (series 0)",
        &report["qc"]["channels"],
        &multi.series()[0]["channels"],
    );
    p.check(report["sha256"] == sha.as_str(), || {
        format!("--json sha256 {}", report["sha256"])
    });
    p.finish(format!("container {}", out.display()));
}

sftest!(inspect_lists_every_series, |dir: Dir| {
    let multi = Multi::make(&dir);
    let doc = scopeflow(args!["inspect", multi.file, "--json"])
        .success()
        .stdout_json();
    let mut p = Problems::new();
    let got = doc["series"].as_array().cloned().unwrap_or_default();
    p.check(got.len() == multi.series().len(), || {
        format!(
            "{} series listed, tifffile sees {}",
            got.len(),
            multi.series().len()
        )
    });
    for (i, (g, w)) in got.iter().zip(multi.series()).enumerate() {
        p.check(g["index"] == i, || {
            format!("series {i} index {}", g["index"])
        });
        for k in ["axes", "shape", "dtype", "name"] {
            p.check(g[k] == w[k], || {
                format!("series {i} {k}: {} != tifffile {}", g[k], w[k])
            });
        }
    }
    p.check(doc["axes"] == multi.series()[0]["axes"], || {
        format!("top-level axes {} describe series 0", doc["axes"])
    });
    p.finish("inspect --json");
});

sftest!(qc_json_reports_every_series, |dir: Dir| {
    let multi = Multi::make(&dir);
    let doc = scopeflow(args!["qc", multi.file, "--json"])
        .success()
        .stdout_json();
    let mut p = Problems::new();
    check_channels(
        &mut p,
        "top-level",
        &doc["channels"],
        &multi.series()[0]["channels"],
    );
    for (i, want) in multi.series().iter().enumerate() {
        let s = &doc["series"][i];
        p.check(s["index"] == i && s["name"] == want["name"], || {
            format!("series {i}: index {} name {}", s["index"], s["name"])
        });
        check_channels(
            &mut p,
            &format!("series {i}"),
            &s["channels"],
            &want["channels"],
        );
    }
    p.check(doc["channels"][1]["name"] == "GFP", || {
        format!("channel names {}", doc["channels"])
    });
    p.finish("qc --json");
});

sftest!(convert_every_series_into_a_container_ngff05, |dir: Dir| {
    check_container(&dir, &Multi::make(&dir), "0.5");
});

sftest!(convert_every_series_into_a_container_ngff04, |dir: Dir| {
    check_container(&dir, &Multi::make(&dir), "0.4");
});

sftest!(convert_one_series_writes_a_plain_image, |dir: Dir| {
    let multi = Multi::make(&dir);
    for n in [1usize, 2] {
        let out = dir.join(format!("only-{n}.ome.zarr"));
        scopeflow(args![
            "convert",
            multi.file,
            out,
            "--series",
            n.to_string(),
            "--quiet"
        ])
        .success();
        let attrs = root_attrs(&out, "0.5");
        assert!(
            attrs["ome"]["multiscales"].is_array()
                && attrs["ome"].get("bioformats2raw.layout").is_none(),
            "--series {n} must write a plain image at the root: {attrs}"
        );
        // The validator compares `X/N` with series N of the source: give it a container whose
        // series N is this plain image (a link, so the very files written are checked).
        let wrap = dir.mkdir(format!("wrap-{n}"));
        fs::write(
            wrap.join("zarr.json"),
            r#"{"zarr_format": 3, "node_type": "group", "attributes": {"ome": {"version": "0.5", "bioformats2raw.layout": 3}}}"#,
        )
        .expect("wrapper zarr.json");
        std::os::unix::fs::symlink(&out, wrap.join(n.to_string())).expect("symlink");
        validate_series(&wrap, &multi.file, n);
    }
    let past = dir.join("past.ome.zarr");
    let r = scopeflow(args!["convert", multi.file, past, "--series", "3"]).exit(2);
    assert!(
        r.stderr.contains("multi.ome.tif") && r.stderr.contains("holds 3"),
        "the error must name the file and the series count\n{r}"
    );
    assert!(!exists_at_all(&past), "nothing may be left at OUTPUT\n{r}");
});

sftest!(
    agent_delivers_a_container_for_a_multi_series_file,
    |dir: Dir| {
        let multi = Multi::make(&dir);
        let watch = dir.mkdir("acq");
        let dest = dir.mkdir("nas");
        fs::copy(&multi.file, watch.join("multi.ome.tif")).expect("copy into the watch folder");
        let cfg = dir.create(
            "pipeline.yaml",
            "version: 1\nname: series-test\nwatch:\n  - path: acq\n    settle: 1s\n\
         state: .scopeflow/state.db\nsteps: [metadata, qc, {convert: {chunk_yx: 32}}]\n\
         destinations:\n  - name: nas\n    kind: local\n    path: nas\n",
        );
        scopeflow(args!["agent", "--config", cfg, "--once"]).success();
        let zarr = dest.join("ome-zarr/multi.ome.zarr");
        for i in 0..multi.series().len() {
            validate_series(&zarr, &multi.file, i);
        }
        let doc = read_json(&dest.join("qc/multi.json"));
        let mut p = Problems::new();
        p.check(doc["sha256"] == sha256_file(&multi.file).as_str(), || {
            format!("qc document sha256 {}", doc["sha256"])
        });
        p.check(
            doc["inspect"]["series"].as_array().map(Vec::len) == Some(multi.series().len()),
            || format!("inspect.series {}", doc["inspect"]["series"]),
        );
        for (i, want) in multi.series().iter().enumerate() {
            check_channels(
                &mut p,
                &format!("qc document series {i}"),
                &doc["qc"]["series"][i]["channels"],
                &want["channels"],
            );
        }
        let check = run(
            Path::new("sh"),
            args![
                "-c",
                "cd \"$1\" && sha256sum -c --quiet manifest-sha256.txt",
                "sh",
                dest
            ],
        );
        p.check(check.status.success(), || {
            format!("sha256sum -c at the destination failed\n{check}")
        });
        p.finish("agent on a multi-series file");
    }
);
