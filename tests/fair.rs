//! FAIR by default (issue 16) with the real binary: the acceptance pipeline
//! `steps: [{naming: {mode: reject}}, metadata, qc, convert]` verifies a well-named file and
//! quarantines a badly named one (its error naming the rule; the raw file never renamed), the
//! per-folder sidecar metadata reaches the QC document, a sidecar with a mistake quarantines
//! its files with `FILE:LINE:COL`, `mode: warn` records the problems without stopping, and the
//! destination's `ro-crate-metadata.json` loads with ro-crate-py and meets RO-Crate 1.1's MUSTs.
//!
//! Unix only: `sha256sum`.

#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::destinations::entry;
use crate::util::*;

const GOOD: &str = "20261204_alice_hela_dapi.tif";
const BAD: &str = "my image (final)!!.tif";
const SIDECAR_RUN: &str = "run2/2026-12-05_bob_hela_gfp.tif";
const BROKEN_RUN: &str = "run3/20261206_bob_hela_gfp.tif";

fn pipeline(dir: &Dir, mode: &str) -> PathBuf {
    dir.create(
        "pipeline.yaml",
        format!(
            "version: 1\nname: fair\nwatch:\n  - path: acq\n    settle: 1s\n\
             steps: [{{naming: {{mode: {mode}}}}}, metadata, qc, convert]\n\
             metadata: {{project: HeLa atlas, license: CC-BY-4.0, contact: alice@lab.example, description: DAPI stacks, users: {{run2: Bob Li}}}}\n\
             retry: {{max_attempts: 3, backoff: 0s, max_backoff: 1s}}\n\
             destinations:\n  - name: nas\n    kind: local\n    path: nas/confocal\n"
        ),
    )
}

fn put(dir: &Dir, rel: &str) {
    let to = dir.join("acq").join(rel);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).expect("make the folder");
    }
    fs::copy(SYNTH_F.path(), &to).expect("copy the sample");
}

fn status(cfg: &Path) -> Vec<Value> {
    let all = scopeflow(args!["status", "--config", cfg, "--json"])
        .success()
        .stdout_json();
    all["files"].as_array().cloned().unwrap_or_default()
}

fn qc_doc(dir: &Dir, stem: &str) -> Value {
    read_json(&dir.join(format!("nas/confocal/qc/{stem}.json")))
}

sftest!(acceptance_reject, |dir: Dir| {
    dir.mkdir("acq");
    dir.mkdir("nas");
    for rel in [GOOD, BAD, SIDECAR_RUN, BROKEN_RUN] {
        put(&dir, rel);
    }
    dir.create(
        "acq/run2/scopeflow-metadata.yaml",
        "description: GFP second run\neln_url: https://eln.lab.example/experiments.php?mode=view&id=42\nspecimen: {stain: GFP}\n",
    );
    dir.create(
        "acq/run3/scopeflow-metadata.yaml",
        "description: third run\nlicense: CC-BY\n",
    );
    let cfg = pipeline(&dir, "reject");
    scopeflow(args!["pipeline", "check", &cfg]).success();
    scopeflow(args!["agent", "--config", &cfg, "--once"]).exit(1);

    let mut p = Problems::new();
    let files = status(&cfg);
    for rel in [GOOD, SIDECAR_RUN] {
        let (e, verified) = entry(&files, rel);
        p.check(e["state"] == "verified" && verified == ["nas"], || {
            format!("{rel}: expected verified at nas: {e}")
        });
    }
    let (e, _) = entry(&files, BAD);
    let err = e["error"].as_str().unwrap_or_default();
    p.check(e["state"] == "quarantined" && e["attempts"] == 1, || {
        format!("{BAD}: expected quarantined after one attempt: {e}")
    });
    p.check(err.contains("naming rule `characters` failed"), || {
        format!("{BAD}: the error names not the rule: {err:?}")
    });
    p.check(dir.join("acq").join(BAD).is_file(), || {
        format!("{BAD}: the raw file was moved or renamed")
    });
    p.check(!dir.join("nas/confocal/raw").join(BAD).exists(), || {
        format!("{BAD}: a rejected file reached the destination")
    });
    let (e, _) = entry(&files, BROKEN_RUN);
    let err = e["error"].as_str().unwrap_or_default();
    p.check(
        e["state"] == "quarantined"
            && err.contains("run3/scopeflow-metadata.yaml:2:10: license: \"CC-BY\" is not a known SPDX licence id"),
        || format!("{BROKEN_RUN}: expected quarantined naming the sidecar's line and column: {e}"),
    );

    let doc = qc_doc(&dir, "20261204_alice_hela_dapi");
    p.check(
        doc["naming"]["ok"] == true && doc["naming"]["mode"] == "reject",
        || format!("{GOOD}: naming in the QC document: {}", doc["naming"]),
    );
    let m = &doc["metadata"];
    p.check(
        m["project"] == "HeLa atlas"
            && m["license"] == "CC-BY-4.0"
            && m["contact"] == "alice@lab.example"
            && m["description"] == "DAPI stacks"
            && m.get("eln_url").is_none(),
        || format!("{GOOD}: metadata in the QC document: {m}"),
    );
    let doc = qc_doc(&dir, "run2/2026-12-05_bob_hela_gfp");
    let m = &doc["metadata"];
    p.check(
        m["project"] == "HeLa atlas"
            && m["description"] == "GFP second run"
            && m["specimen"]["stain"] == "GFP"
            && m["eln_url"] == "https://eln.lab.example/experiments.php?mode=view&id=42",
        || format!("{SIDECAR_RUN}: the sidecar does not override the pipeline: {m}"),
    );
    let check = std::process::Command::new("sha256sum")
        .args(["--quiet", "-c", "manifest-sha256.txt"])
        .current_dir(dir.join("nas/confocal"))
        .output();
    p.check(check.is_ok_and(|o| o.status.success()), || {
        "sha256sum -c fails on the destination".into()
    });
    check_crate(&mut p, &dir);
    check_eln_export(&mut p, &dir, &cfg);
    p.finish("acceptance pipeline");

    // The operator fixes the sidecar: `retry` gets the file through.
    dir.create(
        "acq/run3/scopeflow-metadata.yaml",
        "description: third run\nlicense: CC-BY-SA-4.0\n",
    );
    scopeflow(args!["retry", "--config", &cfg, BROKEN_RUN]).success();
    scopeflow(args!["agent", "--config", &cfg, "--once"]).exit(1);
    let files = status(&cfg);
    let (e, _) = entry(&files, BROKEN_RUN);
    assert_eq!(e["state"], "verified", "{BROKEN_RUN} after the fix: {e}");
    let doc = qc_doc(&dir, "run3/20261206_bob_hela_gfp");
    assert_eq!(doc["metadata"]["license"], "CC-BY-SA-4.0");
});

/// Runs `tests/tools/check_rocrate.py` (RO-Crate 1.1 MUST rules, then ro-crate-py) on a
/// crate folder or `.eln`; returns its entities by `@id` after recording its problems.
pub(crate) fn rocrate_entities(p: &mut Problems, target: &Path) -> serde_json::Map<String, Value> {
    let script = repo_root().join("tests/tools/check_rocrate.py");
    let r = python(args![script, target]);
    if r.code() != Some(0) {
        p.push(format!("check_rocrate.py failed: {r}"));
        return serde_json::Map::new();
    }
    let out = r.stdout_json();
    for problem in out["problems"].as_array().into_iter().flatten() {
        p.push(format!("{}: {problem}", target.display()));
    }
    out["entities"].as_object().cloned().unwrap_or_default()
}

/// The destination's RO-Crate lists the verified files with their checksums, formats, outputs,
/// notebook link and licence, and nothing rejected; the manifest does not list it.
fn check_crate(p: &mut Problems, dir: &Dir) {
    let root = dir.join("nas/confocal");
    let e = rocrate_entities(p, &root);
    let good = &e["raw/20261204_alice_hela_dapi.tif"];
    p.check(
        good["sha256"] == sha256_file(&SYNTH_F.path()).as_str()
            && good["contentSize"]
                == fs::metadata(SYNTH_F.path())
                    .map(|m| m.len().to_string())
                    .unwrap_or_default()
                    .as_str()
            && good["encodingFormat"][1]["@id"]
                == "https://www.nationalarchives.gov.uk/PRONOM/fmt/353"
            && good["dateCreated"].is_string(),
        || format!("the crate's raw file entity: {good}"),
    );
    p.check(
        e.contains_key("ome-zarr/20261204_alice_hela_dapi.ome.zarr/")
            && e.contains_key("qc/20261204_alice_hela_dapi.json")
            && e["qc/20261204_alice_hela_dapi.png"]["encodingFormat"] == "image/png",
        || "the crate lacks the OME-Zarr, the QC document or the thumbnail".into(),
    );
    let run2 = &e["raw/run2/2026-12-05_bob_hela_gfp.tif"];
    let eln = "https://eln.lab.example/experiments.php?mode=view&id=42";
    p.check(
        run2["isPartOf"]["@id"] == eln
            && e.contains_key(eln)
            && run2["author"]["@id"] == "#user-run2"
            && e["#user-run2"]["name"] == "Bob Li",
        || format!("the sidecar's notebook link is not in the crate: {run2}"),
    );
    p.check(!e.keys().any(|k| k.contains("final")), || {
        "a rejected file is in the crate".into()
    });
    let root_entity = &e["./"];
    p.check(
        root_entity["name"] == "HeLa atlas"
            && root_entity["description"] == "DAPI stacks"
            && root_entity["license"]["@id"] == "https://spdx.org/licenses/CC-BY-4.0",
        || format!("the crate's root: {root_entity}"),
    );
    let manifest = fs::read_to_string(root.join("manifest-sha256.txt")).unwrap_or_default();
    p.check(!manifest.contains("ro-crate-metadata.json"), || {
        "the manifest lists the RO-Crate, which changes".into()
    });
    p.check(
        e.values().any(|x| {
            x["@type"] == "CreateAction" && x["object"]["@id"] == "raw/20261204_alice_hela_dapi.tif"
        }),
        || "no CreateAction for the processing".into(),
    );
}

/// `export eln` of two verified files: one folder holding a crate that passes the same checks,
/// with the verified bytes of each listed file; a file with no verified copy is refused and
/// leaves no `.eln` behind.
fn check_eln_export(p: &mut Problems, dir: &Dir, cfg: &Path) {
    let eln = dir.join("alice.eln");
    let out = scopeflow(args![
        "export",
        "eln",
        "--config",
        cfg,
        GOOD,
        SIDECAR_RUN,
        "-o",
        &eln
    ])
    .success();
    p.check(out.stdout.contains("(2 files)"), || {
        format!("export eln's report: {out}")
    });
    let e = rocrate_entities(p, &eln);
    let raw = &e[&format!("raw/{GOOD}")];
    p.check(
        raw["sha256"] == sha256_file(&SYNTH_F.path()).as_str()
            && e.contains_key("raw/run2/2026-12-05_bob_hela_gfp.tif")
            && e.contains_key("qc/20261204_alice_hela_dapi.png")
            && e.contains_key("ome-zarr/run2/2026-12-05_bob_hela_gfp.ome.zarr/")
            && !e.keys().any(|k| k.contains("run3")),
        || format!("the .eln's crate: {:?}", e.keys().collect::<Vec<_>>()),
    );
    let member = format!("alice/raw/{GOOD}");
    let read = python(args![
        "-c",
        "import hashlib, sys, zipfile; print(hashlib.sha256(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2])).hexdigest())",
        &eln,
        &member
    ]);
    p.check(read.stdout.trim() == sha256_file(&SYNTH_F.path()), || {
        format!("the .eln's raw file is not the verified bytes: {read}")
    });
    let refused = dir.join("refused.eln");
    let out = scopeflow(args![
        "export", "eln", "--config", cfg, GOOD, BAD, "-o", &refused
    ])
    .exit(1);
    p.check(out.stderr.contains(BAD) && !refused.exists(), || {
        format!("exporting a quarantined file: {out}")
    });
}

sftest!(warn_records_and_goes_on, |dir: Dir| {
    dir.mkdir("acq");
    dir.mkdir("nas");
    put(&dir, BAD);
    let cfg = pipeline(&dir, "warn");
    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();
    let files = status(&cfg);
    let (e, verified) = entry(&files, BAD);
    assert_eq!(e["state"], "verified", "{e}");
    assert_eq!(verified, ["nas"]);
    let doc = qc_doc(&dir, "my image (final)!!");
    let naming = &doc["naming"];
    assert_eq!(naming["mode"], "warn", "{naming}");
    assert_eq!(naming["ok"], false, "{naming}");
    let rules: Vec<&str> = naming["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["rule"].as_str())
        .collect();
    assert_eq!(rules, ["characters", "date"], "{naming}");
});
