//! What the tests assert about files, the destination and `status --json`, and the files they
//! put in the watched folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::world::*;
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// Files and destinations
// ---------------------------------------------------------------------------------------------

/// REL without its image extension (`.ome.tif`, `.ome.tiff`, `.tif`, `.tiff`), and that extension.
pub(super) fn split_ext(rel: &str) -> (&str, &str) {
    for ext in [".ome.tiff", ".ome.tif", ".tiff", ".tif"] {
        if let Some(stem) = rel.strip_suffix(ext) {
            return (stem, ext);
        }
    }
    (rel, "")
}

/// Every file (not folder) under `root`, relative, `/`-separated, sorted.
pub(super) fn walk_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut |rel, is_dir| {
        if !is_dir {
            out.push(rel.to_string());
        }
        true
    });
    out.sort();
    out
}

/// Calls `f(rel, is_dir)` for everything under `dir` (symlinks not followed); descends into a
/// folder when `f` returns true.
pub(super) fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, bool) -> bool) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if f(&rel, is_dir) && is_dir {
            walk(root, &p, f);
        }
    }
}

/// Paths under `root` whose name contains `scopeflow-tmp`.
pub(super) fn tmp_leftovers(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut |rel, _| {
        if rel.contains("scopeflow-tmp") {
            out.push(rel.to_string());
            return false; // its contents would only repeat the name
        }
        true
    });
    out.sort();
    out
}

/// The `*.ome.zarr` folders under `root` (not looking inside them).
pub(super) fn zarr_dirs(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut |rel, is_dir| {
        if is_dir && rel.ends_with(".ome.zarr") {
            out.push(rel.to_string());
            return false;
        }
        true
    });
    out.sort();
    out
}

pub(super) fn show_list(items: &[String]) -> String {
    pub(super) const MAX: usize = 20;
    let mut s = items
        .iter()
        .take(MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > MAX {
        s.push_str(&format!(", … ({} in all)", items.len()));
    }
    s
}

pub(super) fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
}

/// sha256, size and mtime of the raw files, to prove the agent left them alone.
pub(super) struct RawSnapshot(pub(super) BTreeMap<PathBuf, (String, u64, SystemTime)>);

impl RawSnapshot {
    pub(super) fn take(paths: &[PathBuf]) -> RawSnapshot {
        RawSnapshot(
            paths
                .iter()
                .map(|p| {
                    let len = fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                    (p.clone(), (sha256_file(p), len, mtime(p)))
                })
                .collect(),
        )
    }

    pub(super) fn check_unchanged(&self, p: &mut Problems) {
        for (path, (sha, _, mt)) in &self.0 {
            if !path.is_file() {
                p.push(format!(
                    "raw file {} is gone (moved or renamed?)",
                    path.display()
                ));
                continue;
            }
            let now = sha256_file(path);
            p.check(&now == sha, || {
                format!(
                    "raw file {} was modified: sha256 {sha} before, {now} after",
                    path.display()
                )
            });
            let mt_now = mtime(path);
            p.check(mt_now == *mt, || {
                format!(
                    "raw file {} mtime changed: {mt:?} before, {mt_now:?} after",
                    path.display()
                )
            });
        }
    }
}

/// One raw file the destination must hold: REL, the name its outputs take (STEM or STEM~v2),
/// and the raw bytes' sha256.
pub(super) struct Expected {
    /// `raw/` name: REL, or `STEM~v2.EXT` for a second version.
    pub(super) raw_name: String,
    pub(super) out_stem: String,
    pub(super) sha: String,
}

impl Expected {
    pub(super) fn v1(rel: &str, sha: &str) -> Expected {
        Expected {
            raw_name: rel.to_string(),
            out_stem: split_ext(rel).0.to_string(),
            sha: sha.to_string(),
        }
    }

    pub(super) fn v2(rel: &str, sha: &str) -> Expected {
        let (stem, ext) = split_ext(rel);
        Expected {
            raw_name: format!("{stem}~v2{ext}"),
            out_stem: format!("{stem}~v2"),
            sha: sha.to_string(),
        }
    }
}

/// The destination holds exactly `expected` (raw copy, OME-Zarr, QC JSON for each) and nothing
/// but `raw/`, `ome-zarr/`, `qc/`, the manifest and the RO-Crate at its root.
pub(super) fn check_destination(p: &mut Problems, dest: &Path, expected: &[Expected]) {
    let allowed = [
        "raw",
        "ome-zarr",
        "qc",
        "manifest-sha256.txt",
        "ro-crate-metadata.json",
    ];
    if let Ok(names) = fs::read_dir(dest) {
        for n in names.flatten() {
            let n = n.file_name().to_string_lossy().into_owned();
            p.check(allowed.contains(&n.as_str()), || {
                format!("unexpected entry at the destination root: {n}")
            });
        }
    } else {
        p.push(format!("destination {} is not a folder", dest.display()));
        return;
    }
    for e in expected {
        let raw = dest.join("raw").join(&e.raw_name);
        if raw.is_file() {
            let got = sha256_file(&raw);
            p.check(got == e.sha, || {
                format!(
                    "raw/{} differs from the raw file: sha256 {got}, expected {}",
                    e.raw_name, e.sha
                )
            });
        } else {
            p.push(format!("raw/{} is missing at the destination", e.raw_name));
        }
        let zarr = dest
            .join("ome-zarr")
            .join(format!("{}.ome.zarr", e.out_stem));
        p.check(zarr.join("zarr.json").is_file(), || {
            format!(
                "ome-zarr/{}.ome.zarr/zarr.json is missing (an NGFF 0.5 group)",
                e.out_stem
            )
        });
        let png = fs::read(dest.join("qc").join(format!("{}.png", e.out_stem)));
        p.check(
            png.as_deref()
                .is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n")),
            || format!("qc/{}.png is missing or not a PNG", e.out_stem),
        );
        let qc = dest.join("qc").join(format!("{}.json", e.out_stem));
        match fs::read_to_string(&qc)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
        {
            Ok(doc) => {
                p.check(doc.get("inspect").is_some_and(Value::is_object), || {
                    format!("qc/{}.json has no \"inspect\" object", e.out_stem)
                });
                p.check(
                    doc.pointer("/qc/channels").is_some_and(Value::is_array),
                    || {
                        format!(
                            "qc/{}.json has no \"qc\": {{\"channels\": [...]}}",
                            e.out_stem
                        )
                    },
                );
                p.check(
                    doc.get("sha256").and_then(Value::as_str) == Some(&e.sha),
                    || {
                        format!(
                            "qc/{}.json: sha256 {}, expected {}",
                            e.out_stem,
                            doc.get("sha256").unwrap_or(&Value::Null),
                            e.sha
                        )
                    },
                );
            }
            Err(err) => p.push(format!("qc/{}.json: {err}", e.out_stem)),
        }
    }
    // Nothing more than expected.
    let want_raw: BTreeSet<String> = expected.iter().map(|e| e.raw_name.clone()).collect();
    let got_raw: BTreeSet<String> = walk_files(&dest.join("raw")).into_iter().collect();
    let extra: Vec<String> = got_raw.difference(&want_raw).cloned().collect();
    p.check(extra.is_empty(), || {
        format!("unexpected files under raw/: {}", show_list(&extra))
    });
    let want_zarr: BTreeSet<String> = expected
        .iter()
        .map(|e| format!("{}.ome.zarr", e.out_stem))
        .collect();
    let got_zarr: BTreeSet<String> = zarr_dirs(&dest.join("ome-zarr")).into_iter().collect();
    let extra: Vec<String> = got_zarr.difference(&want_zarr).cloned().collect();
    p.check(extra.is_empty(), || {
        format!(
            "unexpected OME-Zarr folders under ome-zarr/: {}",
            show_list(&extra)
        )
    });
    // Each QC document with the conversion's thumbnail beside it.
    let want_qc: BTreeSet<String> = expected
        .iter()
        .flat_map(|e| {
            [
                format!("{}.json", e.out_stem),
                format!("{}.png", e.out_stem),
            ]
        })
        .collect();
    let got_qc: BTreeSet<String> = walk_files(&dest.join("qc")).into_iter().collect();
    let extra: Vec<String> = got_qc.difference(&want_qc).cloned().collect();
    p.check(extra.is_empty(), || {
        format!("unexpected files under qc/: {}", show_list(&extra))
    });
}

/// `sha256sum -c manifest-sha256.txt` run in the destination root passes, and the manifest
/// lists every file under `raw/`, `ome-zarr/` and `qc/` exactly once.
pub(super) fn check_manifest(p: &mut Problems, dest: &Path) {
    let manifest = dest.join("manifest-sha256.txt");
    let text = match fs::read_to_string(&manifest) {
        Ok(t) => t,
        Err(e) => {
            p.push(format!("cannot read {}: {e}", manifest.display()));
            return;
        }
    };
    let r = run(
        Path::new("sh"),
        args![
            "-c",
            "cd \"$1\" && sha256sum -c manifest-sha256.txt",
            "sh",
            dest
        ],
    );
    if !r.status.success() {
        p.push(format!(
            "`sha256sum -c manifest-sha256.txt` in the destination failed:\n{r}"
        ));
    }
    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((hash, rest)) = line.split_once(' ') else {
            p.push(format!("manifest line not in sha256sum format: {line:?}"));
            continue;
        };
        let path = rest.trim_start_matches([' ', '*']);
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            p.push(format!("manifest line not in sha256sum format: {line:?}"));
        }
        *listed.entry(path.to_string()).or_default() += 1;
    }
    let dup: Vec<String> = listed
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| format!("{k} ({n} times)"))
        .collect();
    p.check(dup.is_empty(), || {
        format!(
            "paths listed more than once in the manifest: {}",
            show_list(&dup)
        )
    });
    let mut unlisted = Vec::new();
    for top in ["raw", "ome-zarr", "qc"] {
        for f in walk_files(&dest.join(top)) {
            let rel = format!("{top}/{f}");
            if !listed.contains_key(&rel) {
                unlisted.push(rel);
            }
        }
    }
    p.check(unlisted.is_empty(), || {
        format!(
            "files at the destination missing from the manifest: {}",
            show_list(&unlisted)
        )
    });
}

pub(super) fn check_no_tmp(p: &mut Problems, root: &Path, what: &str) {
    let left = tmp_leftovers(root);
    p.check(left.is_empty(), || {
        format!(
            "`scopeflow-tmp` paths left in {what} ({}): {}",
            root.display(),
            show_list(&left)
        )
    });
}

/// Status entries whose `path` is `rel`.
pub(super) fn entries<'a>(files: &'a [Value], rel: &str) -> Vec<&'a Value> {
    files
        .iter()
        .filter(|f| f.get("path").and_then(Value::as_str) == Some(rel))
        .collect()
}

pub(super) fn state_of(e: &Value) -> &str {
    e.get("state").and_then(Value::as_str).unwrap_or("?")
}

pub(super) fn version_of(e: &Value) -> Option<u64> {
    e.get("version").and_then(Value::as_u64)
}

/// Every entry for one of `rels` is `verified`.
pub(super) fn all_verified(files: &[Value], rels: &[String]) -> bool {
    rels.iter().all(|r| {
        let e = entries(files, r);
        !e.is_empty() && e.iter().all(|e| state_of(e) == "verified")
    })
}

/// The `error` of a status entry (empty when null or absent).
pub(super) fn error_text(e: &Value) -> String {
    match e.get("error") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// One status entry is a verified version `version` of a file with this sha256 and size, with
/// one verified copy at the destination.
pub(super) fn check_entry(
    p: &mut Problems,
    e: &Value,
    rel: &str,
    sha: &str,
    size: u64,
    version: u64,
) {
    let what = format!("status of {rel} (version {version})");
    p.check(state_of(e) == "verified", || {
        format!(
            "{what}: state {:?}, expected verified (error: {:?})",
            state_of(e),
            error_text(e)
        )
    });
    p.check(e.get("sha256").and_then(Value::as_str) == Some(sha), || {
        format!(
            "{what}: sha256 {}, expected {sha}",
            e.get("sha256").unwrap_or(&Value::Null)
        )
    });
    p.check(e.get("size").and_then(Value::as_u64) == Some(size), || {
        format!(
            "{what}: size {}, expected {size}",
            e.get("size").unwrap_or(&Value::Null)
        )
    });
    p.check(error_text(e).is_empty(), || {
        format!("{what}: error {:?} on a verified file", error_text(e))
    });
    p.check(version_of(e) == Some(version), || {
        format!(
            "{what}: version {}, expected {version}",
            e.get("version").unwrap_or(&Value::Null)
        )
    });
    p.check(e.get("attempts").and_then(Value::as_u64).is_some(), || {
        format!("{what}: no integer \"attempts\"")
    });
    p.check(e.get("watch").is_some(), || format!("{what}: no \"watch\""));
    let copies = e
        .get("copies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ours: Vec<&Value> = copies
        .iter()
        .filter(|c| c.get("destination").and_then(Value::as_str) == Some(DEST_NAME))
        .collect();
    p.check(
        ours.len() == 1
            && ours[0]
                .get("verified_at")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
        || {
            format!(
                "{what}: copies {}, expected one {{\"destination\": \"{DEST_NAME}\", \
                 \"verified_at\": <time>}}",
                Value::Array(copies.clone())
            )
        },
    );
}

/// Status has exactly one verified version-1 entry per `(rel, path)` and no other entry.
pub(super) fn check_status_v1(p: &mut Problems, files: &[Value], raws: &[(String, PathBuf)]) {
    for (rel, path) in raws {
        let es = entries(files, rel);
        if es.len() != 1 {
            p.push(format!(
                "status has {} entries for {rel}, expected exactly 1",
                es.len()
            ));
        }
        if let Some(e) = es.first() {
            let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            check_entry(p, e, rel, &sha256_file(path), size, 1);
        }
    }
    let known: BTreeSet<&str> = raws.iter().map(|(r, _)| r.as_str()).collect();
    let extra: Vec<String> = files
        .iter()
        .filter_map(|f| f.get("path").and_then(Value::as_str))
        .filter(|path| !known.contains(path))
        .map(str::to_string)
        .collect();
    p.check(extra.is_empty(), || {
        format!("status lists unexpected paths: {}", show_list(&extra))
    });
}

pub(super) fn report_status_failures(p: &mut Problems, failures: &[String]) {
    if let Some(first) = failures.first() {
        p.push(format!(
            "`status --json` failed {} time(s) while the agent ran; the first:\n{first}",
            failures.len()
        ));
    }
}

pub(super) fn raws_of(env: &Env, rels: &[&str]) -> Vec<(String, PathBuf)> {
    rels.iter()
        .map(|r| (r.to_string(), env.watch.join(r)))
        .collect()
}

pub(super) fn expected_v1(raws: &[(String, PathBuf)]) -> Vec<Expected> {
    raws.iter()
        .map(|(rel, path)| Expected::v1(rel, &sha256_file(path)))
        .collect()
}

/// The hash of every file under `root` (to prove a later run left them alone).
pub(super) fn tree_hashes(root: &Path) -> BTreeMap<String, String> {
    walk_files(root)
        .into_iter()
        .map(|f| {
            let h = sha256_file(&root.join(&f));
            (f, h)
        })
        .collect()
}

/// A small seeded generator (splitmix64): the seed is printed, so a failing run can be replayed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub(super) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
}

/// The seed from `var` when set, else from the clock; printed either way.
pub(super) fn seed(var: &str) -> u64 {
    let s = std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("seed: {s} (replay with {var}={s})");
    s
}

pub(super) const ONCE_LIMIT: Duration = Duration::from_secs(180);

/// Small samples for the many-file tests (all under 1.1 MB).
pub(super) fn small_samples() -> [Sample; 4] {
    [SYNTH_F, REAL_MAIZE, REAL_LARGEIMG, REAL_METAMORPH]
}

/// `n` files named `NN_<sample stem><ext>`, every fourth in `run-b/`, cycling through the small
/// samples.
pub(super) fn put_many(env: &Env, n: usize) -> Vec<(String, PathBuf)> {
    let samples = small_samples();
    (0..n)
        .map(|i| {
            let s = samples[i % samples.len()];
            let (_, ext) = split_ext(s.file);
            let sub = if i % 4 == 3 { "run-b/" } else { "" };
            let rel = format!("{sub}{i:02}_{}{ext}", s.stem());
            let path = env.put(&rel, &s.path());
            (rel, path)
        })
        .collect()
}
