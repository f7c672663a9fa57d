//! Throughput figures and what the faster delivery must not weaken: `status` reports files
//! and bytes per second, queue and ETA from the journal after a real `agent --once` run; the
//! raw copies at a local destination on the work folder's filesystem stay independent copies
//! (never links), while the OME-Zarr published by link still checks with `sha256sum -c` after
//! the work folder is gone.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::*;

const YAML: &str = "version: 1\n\
name: plate\n\
watch:\n  - path: acq\n    settle: 1s\n\
state: .scopeflow/state.db\n\
destinations:\n  - name: nas\n    kind: local\n    path: nas\n";

/// Plate-reader names (well, field, channel) on real and synthetic TIFFs.
fn plate(dir: &Dir) -> Vec<(String, u64)> {
    let acq = dir.mkdir("acq");
    dir.mkdir("nas");
    [
        ("PLATE_A01_s1_w1.tif", REAL_BBBC022),
        ("PLATE_A01_s1_w2.tif", SYNTH_A),
        ("PLATE_A02_s1_w1.tif", SYNTH_F),
    ]
    .iter()
    .map(|(name, sample)| {
        let to = acq.join(name);
        fs::copy(sample.path(), &to).unwrap();
        (name.to_string(), fs::metadata(&to).unwrap().len())
    })
    .collect()
}

fn number(t: &Value, key: &str) -> f64 {
    t[key]
        .as_f64()
        .unwrap_or_else(|| panic!("status --json: throughput.{key} is not a number: {t}"))
}

sftest!(status_reports_throughput_after_a_run, |dir: Dir| {
    let files = plate(&dir);
    let config = dir.create("plate.yaml", YAML);
    scopeflow([
        "-v".as_ref(),
        "agent".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--once".as_ref(),
    ])
    .success();
    let status = scopeflow([
        "status".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--json".as_ref(),
    ])
    .success();
    let doc = status.stdout_json();
    let t = &doc["throughput"];
    let window = number(t, "window_s");
    assert!(window > 0.0, "{t}");
    // Every file was verified within the last window (the run took seconds): the rates are
    // the files' count and total size over the window, and nothing is left.
    let bytes: u64 = files.iter().map(|f| f.1).sum();
    assert_eq!(
        number(t, "files_per_s"),
        (files.len() as f64 / window * 100.0).round() / 100.0,
        "{t}"
    );
    assert_eq!(
        number(t, "bytes_per_s"),
        (bytes as f64 / window).round(),
        "{t}"
    );
    assert_eq!(t["queue"], 0, "{t}");
    assert_eq!(t["queue_bytes"], 0, "{t}");
    assert_eq!(number(t, "eta_s"), 0.0, "{t}");
    assert_eq!(doc["files"].as_array().map(Vec::len), Some(files.len()));

    let text = scopeflow(["status".as_ref(), "--config".as_ref(), config.as_os_str()]).success();
    assert!(
        text.stdout.contains("throughput (last 60 s): ") && text.stdout.contains("queue 0 files"),
        "{text}"
    );
});

sftest!(
    raw_copies_stay_independent_beside_linked_outputs,
    |dir: Dir| {
        let files = plate(&dir);
        let config = dir.create("plate.yaml", YAML);
        let run = scopeflow([
            "-vv".as_ref(),
            "agent".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            "--once".as_ref(),
        ])
        .success();
        let nas = dir.join("nas");
        for (name, size) in &files {
            let src = fs::metadata(dir.join("acq").join(name)).unwrap();
            let copy = fs::metadata(nas.join("raw").join(name)).unwrap();
            assert_eq!(copy.len(), *size);
            assert_ne!(
                copy.ino(),
                src.ino(),
                "{name}: the raw copy is the original"
            );
            assert_eq!(copy.nlink(), 1, "{name}: the raw copy has other names");
            assert_eq!(src.nlink(), 1, "{name}: the original gained a name");
        }
        // The work folder is gone once verified: the outputs live on at the destination only.
        let work = dir.join(".scopeflow/work");
        let left: Vec<_> = fs::read_dir(&work)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "work folder not emptied: {left:?}");
        let zarrs = nas.join("ome-zarr");
        assert_eq!(fs::read_dir(&zarrs).unwrap().count(), files.len());
        for_each_file(&zarrs, &mut |p| {
            assert_eq!(fs::metadata(p).unwrap().nlink(), 1, "{}", p.display());
        });
        let check = Command::new("sha256sum")
            .args(["--quiet", "-c", "manifest-sha256.txt"])
            .current_dir(&nas)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "sha256sum -c: {}\n{run}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
);

fn for_each_file(dir: &Path, f: &mut dyn FnMut(&Path)) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            for_each_file(&p, f);
        } else {
            f(&p);
        }
    }
}
