//! `scopeflow convert FILE OUT.ome.zarr`: every sample in NGFF 0.5 and 0.4, each output checked
//! by `validate_omezarr.py` (metadata models, every pixel, pyramid shapes, truth) and here
//! (provenance, omero channels, OME-XML copy, automatic pyramid depth); then the layout and
//! codec options, and the refusal to overwrite.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ngff {
    V05,
    V04,
}

impl Ngff {
    fn flag(self) -> Vec<std::ffi::OsString> {
        match self {
            Ngff::V05 => args![],
            Ngff::V04 => args!["--ngff", "0.4"],
        }
    }
}

/// One level of the multiscales, from its array metadata.
struct Level {
    path: String,
    shape: Vec<u64>,
    /// The chunk shape as stored (the shard shape when sharded).
    outer_chunk: Vec<u64>,
    /// The chunk a reader decodes: the inner chunk when sharded, else `outer_chunk`.
    chunk: Vec<u64>,
    /// Zarr v3 `codecs` or Zarr v2 `{"compressor", "filters"}`.
    codecs: Value,
}

/// The parts of an OME-Zarr image the checks below look at.
struct OmeZarr {
    root: PathBuf,
    /// Zarr v3 `attributes` of the root group, or Zarr v2 `.zattrs`.
    attrs: Value,
    ngff: Ngff,
    axes: Vec<String>,
    levels: Vec<Level>,
}

fn u64s(v: &Value) -> Option<Vec<u64>> {
    v.as_array()?.iter().map(Value::as_u64).collect()
}

fn read_json_at(path: &Path) -> Result<Value, String> {
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

impl OmeZarr {
    fn open(root: &Path, ngff: Ngff) -> Result<OmeZarr, String> {
        let attrs = match ngff {
            Ngff::V05 => {
                if root.join(".zattrs").exists() || root.join(".zgroup").exists() {
                    return Err(
                        "NGFF 0.5 output has Zarr v2 files (.zattrs/.zgroup) at its root".into(),
                    );
                }
                let meta = read_json_at(&root.join("zarr.json"))?;
                if meta["zarr_format"] != 3 || meta["node_type"] != "group" {
                    return Err(format!("root zarr.json is not a Zarr v3 group: {meta}"));
                }
                let attrs = meta["attributes"].clone();
                if attrs["ome"]["version"] != "0.5" {
                    return Err(format!(
                        "attributes.ome.version is {}, expected \"0.5\"",
                        attrs["ome"]["version"]
                    ));
                }
                attrs
            }
            Ngff::V04 => {
                if root.join("zarr.json").exists() {
                    return Err("NGFF 0.4 output has a Zarr v3 zarr.json at its root".into());
                }
                let group = read_json_at(&root.join(".zgroup"))?;
                if group["zarr_format"] != 2 {
                    return Err(format!(".zgroup is not Zarr v2: {group}"));
                }
                let attrs = read_json_at(&root.join(".zattrs"))?;
                if attrs["multiscales"][0]["version"] != "0.4" {
                    return Err(format!(
                        ".zattrs multiscales[0].version is {}, expected \"0.4\"",
                        attrs["multiscales"][0]["version"]
                    ));
                }
                attrs
            }
        };
        let ome = match ngff {
            Ngff::V05 => &attrs["ome"],
            Ngff::V04 => &attrs,
        };
        let ms = &ome["multiscales"][0];
        let axes: Vec<String> = ms["axes"]
            .as_array()
            .ok_or("multiscales[0].axes is not an array")?
            .iter()
            .map(|a| a["name"].as_str().unwrap_or("?").to_string())
            .collect();
        let mut levels = Vec::new();
        for ds in ms["datasets"]
            .as_array()
            .ok_or("multiscales[0].datasets is not an array")?
        {
            let path = ds["path"]
                .as_str()
                .ok_or("a dataset has no path")?
                .to_string();
            let level = match ngff {
                Ngff::V05 => {
                    let meta = read_json_at(&root.join(&path).join("zarr.json"))?;
                    let shape = u64s(&meta["shape"]).ok_or("array shape")?;
                    let outer = u64s(&meta["chunk_grid"]["configuration"]["chunk_shape"])
                        .ok_or_else(|| {
                            format!("level {path}: no regular chunk_grid chunk_shape")
                        })?;
                    let codecs = meta["codecs"].clone();
                    let inner = if codecs[0]["name"] == "sharding_indexed" {
                        u64s(&codecs[0]["configuration"]["chunk_shape"]).ok_or_else(|| {
                            format!("level {path}: sharding codec without chunk_shape")
                        })?
                    } else {
                        outer.clone()
                    };
                    Level {
                        path,
                        shape,
                        outer_chunk: outer,
                        chunk: inner,
                        codecs,
                    }
                }
                Ngff::V04 => {
                    let meta = read_json_at(&root.join(&path).join(".zarray"))?;
                    let shape = u64s(&meta["shape"]).ok_or("array shape")?;
                    let chunks = u64s(&meta["chunks"]).ok_or("array chunks")?;
                    let codecs = serde_json::json!({
                        "compressor": meta["compressor"],
                        "filters": meta["filters"],
                    });
                    Level {
                        path,
                        shape,
                        outer_chunk: chunks.clone(),
                        chunk: chunks,
                        codecs,
                    }
                }
            };
            levels.push(level);
        }
        if levels.is_empty() {
            return Err("multiscales[0].datasets is empty".into());
        }
        Ok(OmeZarr {
            root: root.to_path_buf(),
            attrs,
            ngff,
            axes,
            levels,
        })
    }

    /// The NGFF block: `attributes.ome` (0.5) or the whole `.zattrs` (0.4).
    fn ome(&self) -> &Value {
        match self.ngff {
            Ngff::V05 => &self.attrs["ome"],
            Ngff::V04 => &self.attrs,
        }
    }

    /// (y, x) of a per-axis vector.
    fn yx(&self, v: &[u64]) -> (u64, u64) {
        let at = |n: &str| self.axes.iter().position(|a| a == n).map_or(0, |i| v[i]);
        (at("y"), at("x"))
    }
}

/// Converts `sample` to `out` with `extra` flags, validates the output against the source and
/// its truth, then runs the checks every conversion must pass (the pyramid depth of
/// `--levels auto` unless `extra` sets `--levels N`).
fn convert_and_check(sample: &Sample, out: &Path, ngff: Ngff, extra: &[&str]) -> (Run, OmeZarr) {
    let src = sample.path();
    let mut a = args!["convert", src, out];
    a.extend(ngff.flag());
    a.extend(extra.iter().map(Into::into));
    let parent = out.parent().expect("output has a parent folder");
    let mut expected_beside = list_dir(parent);
    let run = scopeflow(a).success();
    // The validator's verdict and every check below are reported together.
    let mut p = Problems::new();
    let name = out
        .file_name()
        .expect("output name")
        .to_string_lossy()
        .into_owned();
    // The thumbnail: `NAME.png` beside `NAME.ome.zarr` (`NAME.zarr`, or OUTPUT + `.png`).
    let lower = name.to_ascii_lowercase();
    let stem_len = [".ome.zarr", ".zarr"]
        .iter()
        .find(|e| lower.ends_with(*e) && lower.len() > e.len())
        .map_or(name.len(), |e| name.len() - e.len());
    let png = format!("{}.png", &name[..stem_len]);
    if !expected_beside.contains(&png) {
        expected_beside.push(png);
    }
    expected_beside.push(name);
    expected_beside.sort();
    let beside = list_dir(parent);
    p.check(beside == expected_beside, || {
        format!("the output's folder holds {beside:?} after the conversion, expected {expected_beside:?}")
    });
    let validation = validate_run(out, &src, Some(&sample.truth_path())).unwrap_or_else(|r| {
        let verdict = r.stdout_last_line().unwrap_or("<no output>").to_string();
        p.push(format!("validate_omezarr.py: {verdict}"));
        r
    });
    let context = format!("{run}\n{validation}");
    match OmeZarr::open(out, ngff) {
        Ok(z) => {
            check_common(&mut p, &z, sample);
            let levels_given = extra
                .windows(2)
                .any(|w| w[0] == "--levels" && w[1] != "auto");
            if !levels_given {
                check_levels_auto(&mut p, &z);
            }
            p.finish(&context);
            (run, z)
        }
        Err(e) => {
            p.push(e);
            p.finish(&context);
            unreachable!("finish panics when there are problems")
        }
    }
}

/// Provenance, omero channels and, for an OME-TIFF source, the verbatim OME-XML.
fn check_common(p: &mut Problems, z: &OmeZarr, sample: &Sample) {
    let truth = sample.truth();
    check_provenance(p, z, sample, &truth);
    check_omero(p, z, &truth);
    if sample.is_ome_tiff() {
        check_ome_xml(p, z, &sample.path());
    }
}

fn check_provenance(p: &mut Problems, z: &OmeZarr, sample: &Sample, truth: &Value) {
    let where_ = match z.ngff {
        Ngff::V05 => "zarr.json attributes.scopeflow",
        Ngff::V04 => ".zattrs scopeflow",
    };
    let prov = &z.attrs["scopeflow"];
    if !prov.is_object() {
        p.push(format!("{where_}: got {prov}, expected an object"));
        return;
    }
    let src = sample.path();
    let size = fs::metadata(&src).expect("source metadata").len();
    let source = &prov["source"];
    p.check(source["name"] == sample.file, || {
        format!(
            "{where_}.source.name: got {}, expected {:?}",
            source["name"], sample.file
        )
    });
    p.check(source["size"] == size, || {
        format!(
            "{where_}.source.size: got {}, expected {size}",
            source["size"]
        )
    });
    let sha = sha256_file(&src);
    p.check(
        source["sha256"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(&sha)),
        || {
            format!(
                "{where_}.source.sha256: got {}, expected {sha:?}",
                source["sha256"]
            )
        },
    );
    p.check(
        prov["version"].as_str().is_some_and(|v| !v.is_empty()),
        || {
            format!(
                "{where_}.version: got {}, expected a non-empty string",
                prov["version"]
            )
        },
    );
    p.check(prov["parameters"].is_object(), || {
        format!(
            "{where_}.parameters: got {}, expected an object",
            prov["parameters"]
        )
    });
    let mut qc = Problems::new();
    crate::qc::check_against_truth(&mut qc, &prov["qc"], truth);
    p.absorb(&format!("{where_}.qc: "), qc);
}

fn check_omero(p: &mut Problems, z: &OmeZarr, truth: &Value) {
    let where_ = match z.ngff {
        Ngff::V05 => "attributes.ome.omero",
        Ngff::V04 => ".zattrs omero",
    };
    let Some(channels) = z.ome()["omero"]["channels"].as_array() else {
        p.push(format!(
            "{where_}.channels: missing or not an array (omero = {})",
            z.ome()["omero"]
        ));
        return;
    };
    let want = truth["channels"].as_array().expect("truth channels").len();
    p.check(channels.len() == want, || {
        format!(
            "{where_}.channels: {} entries, expected one per channel ({want})",
            channels.len()
        )
    });
    if let Some(names) = truth["channel_names"].as_array() {
        let labels: Vec<Value> = channels.iter().map(|c| c["label"].clone()).collect();
        p.check(&labels == names, || {
            format!(
                "{where_} labels: got {}, expected {}",
                Value::from(labels.clone()),
                Value::from(names.clone())
            )
        });
    }
}

/// `OME/METADATA.ome.xml` is the source's OME-XML (ImageDescription of the first page, as
/// tifffile reads it), byte for byte apart from trailing NULs and whitespace.
fn check_ome_xml(p: &mut Problems, z: &OmeZarr, src: &Path) {
    let copy = z.root.join("OME").join("METADATA.ome.xml");
    let got = match fs::read(&copy) {
        Ok(b) => b,
        Err(e) => return p.push(format!("{}: {e}", copy.display())),
    };
    let script = "import sys, tifffile\n\
                  with tifffile.TiffFile(sys.argv[1]) as tf:\n    \
                  d = tf.pages[0].description\n\
                  sys.stdout.buffer.write(d.encode('utf-8') if isinstance(d, str) else d)\n";
    let r = python(args!["-c", script, src]).success();
    let trim = |s: &str| {
        s.trim_end_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_string()
    };
    let want = trim(&r.stdout);
    let got = trim(&String::from_utf8_lossy(&got));
    if got != want {
        let at = got
            .chars()
            .zip(want.chars())
            .take_while(|(a, b)| a == b)
            .count();
        p.push(format!(
            "OME/METADATA.ome.xml differs from the source's OME-XML ({} vs {} chars, first difference at char {at}: \
             got {:?}..., expected {:?}...)",
            got.chars().count(),
            want.chars().count(),
            got.chars().skip(at).take(60).collect::<String>(),
            want.chars().skip(at).take(60).collect::<String>(),
        ));
    }
}

/// `--levels auto`: the last level fits in one chunk in Y and X, the level before it does not.
fn check_levels_auto(p: &mut Problems, z: &OmeZarr) {
    let (cy, cx) = z.yx(&z.levels[0].chunk);
    let fits = |l: &Level| {
        let (y, x) = z.yx(&l.shape);
        y <= cy && x <= cx
    };
    let shapes: Vec<(u64, u64)> = z.levels.iter().map(|l| z.yx(&l.shape)).collect();
    let n = z.levels.len();
    p.check(fits(&z.levels[n - 1]), || {
        format!("--levels auto: last level (y, x) {:?} does not fit in one {cy}x{cx} chunk (levels {shapes:?})", shapes[n - 1])
    });
    if n >= 2 {
        p.check(!fits(&z.levels[n - 2]), || {
            format!("--levels auto: level {} {:?} already fits in one {cy}x{cx} chunk, so level {} is one too many (levels {shapes:?})", n - 2, shapes[n - 2], n - 1)
        });
    }
}

/// Every codec name in a Zarr v3 codec list (nested ones of a sharding codec included) or in
/// Zarr v2 compressor/filters.
fn codec_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for key in ["name", "id"] {
                if let Some(name) = m.get(key).and_then(Value::as_str) {
                    out.push(name.to_string());
                }
            }
            m.values().for_each(|x| codec_names(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| codec_names(x, out)),
        _ => {}
    }
}

fn all_codec_names(z: &OmeZarr) -> Vec<String> {
    let mut names = Vec::new();
    for l in &z.levels {
        codec_names(&l.codecs, &mut names);
    }
    names.sort();
    names.dedup();
    names
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let e = e.expect("directory entry");
        if e.file_type().expect("file type").is_dir() {
            n += count_files(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

fn check_sample(dir: &Dir, sample: &Sample, ngff: Ngff) {
    let out = dir.join(format!("{}.ome.zarr", sample.stem()));
    convert_and_check(sample, &out, ngff, &[]);
}

/// NGFF 0.5 (Zarr v3), the default.
mod ngff05 {
    use super::*;

    fn check(dir: &Dir, sample: &Sample) {
        check_sample(dir, sample, Ngff::V05);
    }

    for_each_sample!(check);
}

/// `--ngff 0.4` (Zarr v2).
mod ngff04 {
    use super::*;

    fn check(dir: &Dir, sample: &Sample) {
        check_sample(dir, sample, Ngff::V04);
    }

    for_each_sample!(check);
}

// ---------------------------------------------------------------------------------------------
// Layout and codec options
// ---------------------------------------------------------------------------------------------

sftest!(levels_3, |dir: Dir| {
    let out = dir.join("a.ome.zarr");
    let (run, z) = convert_and_check(&SYNTH_A, &out, Ngff::V05, &["--levels", "3"]);
    let shapes: Vec<&Vec<u64>> = z.levels.iter().map(|l| &l.shape).collect();
    assert_eq!(
        z.levels.len(),
        3,
        "--levels 3 wrote {} levels: {shapes:?}\n{run}",
        z.levels.len()
    );
});

sftest!(chunk_yx_256, |dir: Dir| {
    let out = dir.join("a.ome.zarr");
    let (run, z) = convert_and_check(
        &SYNTH_A,
        &out,
        Ngff::V05,
        &["--chunk-yx", "256", "--levels", "auto"],
    );
    let mut p = Problems::new();
    for l in &z.levels {
        let (y, x) = z.yx(&l.shape);
        let (cy, cx) = z.yx(&l.chunk);
        let ok = |c: u64, n: u64| c == 256 || c == n.min(256);
        p.check(ok(cy, y) && ok(cx, x), || {
            format!("level {}: chunk (y, x) = ({cy}, {cx}), expected 256 (or the level's size if smaller)", l.path)
        });
    }
    // 2048 -> 1024 -> 512 -> 256: four levels.
    p.check(z.levels.len() == 4, || {
        format!(
            "{} levels, expected 4 for 2048x2048 in 256x256 chunks",
            z.levels.len()
        )
    });
    p.finish(&run);
});

sftest!(shard_yx_1024, |dir: Dir| {
    let out = dir.join("a.ome.zarr");
    let (run, z) = convert_and_check(&SYNTH_A, &out, Ngff::V05, &["--shard-yx", "1024"]);
    let mut p = Problems::new();
    let l0 = &z.levels[0];
    p.check(l0.codecs[0]["name"] == "sharding_indexed", || {
        format!(
            "level 0 codecs do not start with sharding_indexed: {}",
            l0.codecs
        )
    });
    let (sy, sx) = z.yx(&l0.outer_chunk);
    let (cy, cx) = z.yx(&l0.chunk);
    p.check((sy, sx) == (1024, 1024), || {
        format!("level 0 shard (y, x) = ({sy}, {sx}), expected (1024, 1024)")
    });
    p.check(
        cy < 1024 && cx < 1024 && cy > 0 && cx > 0 && 1024 % cy == 0 && 1024 % cx == 0,
        || format!("level 0 inner chunk (y, x) = ({cy}, {cx}) should divide the 1024 shard"),
    );
    // 2048x2048 in 1024x1024 shards: four shard files (plus zarr.json).
    let files = count_files(&out.join(&l0.path));
    p.check(files == 5, || {
        format!("level 0 holds {files} files, expected 4 shards + zarr.json")
    });
    p.finish(&run);
});

sftest!(codec_blosc, |dir: Dir| {
    let out = dir.join("a.ome.zarr");
    let (run, z) = convert_and_check(&SYNTH_A, &out, Ngff::V05, &["--codec", "blosc"]);
    let names = all_codec_names(&z);
    assert!(
        names.iter().any(|n| n == "blosc"),
        "--codec blosc: codecs are {names:?}\n{run}"
    );
    assert!(
        !names.iter().any(|n| n == "zstd"),
        "--codec blosc: codecs are {names:?}\n{run}"
    );
});

sftest!(codec_none, |dir: Dir| {
    let out = dir.join("f.ome.zarr");
    let (run, z) = convert_and_check(&SYNTH_F, &out, Ngff::V05, &["--codec", "none"]);
    let names = all_codec_names(&z);
    let compressors = ["zstd", "blosc", "gzip", "zlib", "lz4", "bz2", "lzma"];
    assert!(
        !names.iter().any(|n| compressors.contains(&n.as_str())),
        "--codec none: codecs are {names:?}\n{run}"
    );
});

sftest!(codec_none_ngff04, |dir: Dir| {
    let out = dir.join("f.ome.zarr");
    let (run, z) = convert_and_check(&SYNTH_F, &out, Ngff::V04, &["--codec", "none"]);
    for l in &z.levels {
        assert!(
            l.codecs["compressor"].is_null(),
            "--ngff 0.4 --codec none: level {} compressor is {}\n{run}",
            l.path,
            l.codecs["compressor"]
        );
    }
});

sftest!(
    /// The provenance's `qc` is the document `qc --json` prints for the same file.
    provenance_qc_equals_qc_json,
    |dir: Dir| {
    let out = dir.join("c.ome.zarr");
    let (run, z) = convert_and_check(&SYNTH_C, &out, Ngff::V05, &[]);
    let qc_run = scopeflow(args!["qc", SYNTH_C.path(), "--json"]).success();
    let want = qc_run.stdout_json();
    let got = &z.attrs["scopeflow"]["qc"];
    if let Some(diff) = json_diff("qc", got, &want) {
        panic!("the provenance qc differs from `qc --json`: {diff}\n{run}\n{qc_run}");
    }
});

/// First difference between two JSON documents (numbers to 1e-9 relative).
fn json_diff(at: &str, got: &Value, want: &Value) -> Option<String> {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64()?, w.as_f64()?);
            (!close(g, w, 1e-9)).then(|| format!("{at}: {g} vs {w}"))
        }
        (Value::Object(g), Value::Object(w)) => {
            let mut gk: Vec<&String> = g.keys().collect();
            let mut wk: Vec<&String> = w.keys().collect();
            gk.sort();
            wk.sort();
            if gk != wk {
                return Some(format!("{at}: keys {gk:?} vs {wk:?}"));
            }
            w.iter()
                .find_map(|(k, wv)| json_diff(&format!("{at}.{k}"), &g[k], wv))
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Some(format!("{at}: {} vs {} items", g.len(), w.len()));
            }
            g.iter()
                .zip(w)
                .enumerate()
                .find_map(|(i, (g, w))| json_diff(&format!("{at}[{i}]"), g, w))
        }
        (g, w) => (g != w).then(|| format!("{at}: {g} vs {w}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Existing output
// ---------------------------------------------------------------------------------------------

sftest!(existing_output_needs_overwrite, |dir: Dir| {
    let src = SYNTH_F.path();
    let parent = dir.mkdir("out");
    let out = parent.join("f.ome.zarr");
    scopeflow(args!["convert", src, out]).success();
    let stray = out.join("stray.txt");
    fs::write(&stray, "left by the test").expect("write stray file");
    let root_meta = fs::read(out.join("zarr.json")).expect("zarr.json");

    let refused = scopeflow(args!["convert", src, out]).exit(2);
    let mut p = Problems::new();
    p.check(!refused.stderr.contains("panicked"), || {
        "it panicked".into()
    });
    p.check(refused.stderr.contains("f.ome.zarr"), || {
        "stderr does not name the output".into()
    });
    p.check(stray.exists(), || {
        "the existing output was modified (stray file gone)".into()
    });
    p.check(
        fs::read(out.join("zarr.json")).ok() == Some(root_meta),
        || "the existing output was modified (zarr.json changed)".into(),
    );
    p.check(list_dir(&parent) == ["f.ome.zarr", "f.png"], || {
        format!("left something beside the output: {:?}", list_dir(&parent))
    });
    p.finish(&refused);

    let replaced = scopeflow(args!["convert", src, out, "--overwrite"]).success();
    let mut p = Problems::new();
    p.check(!stray.exists(), || {
        "--overwrite kept a file of the old output (stray.txt)".into()
    });
    p.check(list_dir(&parent) == ["f.ome.zarr", "f.png"], || {
        format!("left something beside the output: {:?}", list_dir(&parent))
    });
    p.finish(&replaced);
    validate(&out, &src, Some(&SYNTH_F.truth_path()));
});

sftest!(existing_file_at_output_is_refused, |dir: Dir| {
    let out = dir.create("taken.ome.zarr", "not a zarr");
    let run = scopeflow(args!["convert", SYNTH_F.path(), out]).exit(2);
    let mut p = Problems::new();
    p.check(!run.stderr.contains("panicked"), || "it panicked".into());
    p.check(run.stderr.contains("taken.ome.zarr"), || {
        "stderr does not name the output".into()
    });
    p.check(
        fs::read(&out).ok().as_deref() == Some(b"not a zarr".as_slice()),
        || "the existing file was modified".into(),
    );
    p.check(list_dir(dir.path()) == ["taken.ome.zarr"], || {
        format!(
            "left something beside the output: {:?}",
            list_dir(dir.path())
        )
    });
    p.finish(&run);
});
