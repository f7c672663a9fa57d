//! `scopeflow status` on a journal the real agent wrote: the detected format of each file,
//! paging (`--limit/--offset`) and filters (`--state`, `--since`), in JSON and text.

use std::fs;

use serde_json::Value;

use crate::util::*;

/// Real files of four formats and one that is not an image, delivered once by the agent.
fn delivered(dir: &Dir) -> std::path::PathBuf {
    let acq = dir.mkdir("acq");
    dir.mkdir("nas");
    let real = real_samples_dir();
    for (name, rel) in [
        ("aics_s_1_t_1_c_1_z_1.ome.tiff", "a/cells.ome.tiff"),
        ("aics_s_1_t_1_c_1_z_1.czi", "b/cells.czi"),
        ("maize_clsm.tif", "c/maize.tif"),
        ("arcadia_example-zstack.nd2", "d/stack.nd2"),
    ] {
        fs::create_dir_all(acq.join(rel).parent().unwrap()).unwrap();
        fs::copy(real.join(name), acq.join(rel)).unwrap();
    }
    dir.mkdir("acq/e");
    dir.create("acq/e/notes.tif", "not an image at all\n");
    let cfg = dir.create(
        "pipeline.yaml",
        "version: 1\nname: listing\nwatch:\n  - path: acq\n    include: [\"**/*\"]\n    settle: 1s\n\
         destinations:\n  - name: nas\n    kind: local\n    path: nas/listing\n\
         retry:\n  max_attempts: 1\n",
    );
    // The text file fails (quarantined at once with max_attempts 1): exit 1.
    scopeflow(args!["agent", "--config", &cfg, "--once"]).exit(1);
    cfg
}

fn listed(cfg: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut a = args!["status", "--config", cfg, "--json"];
    a.extend(extra.iter().map(std::ffi::OsString::from));
    let v = scopeflow(a).success().stdout_json();
    v["files"].as_array().unwrap().clone()
}

fn paths(files: &[Value]) -> Vec<&str> {
    files.iter().map(|f| f["path"].as_str().unwrap()).collect()
}

sftest!(status_pages_filters_and_shows_the_format, |dir: Dir| {
    let cfg = delivered(&dir);
    let all = listed(&cfg, &[]);
    assert_eq!(
        paths(&all),
        [
            "a/cells.ome.tiff",
            "b/cells.czi",
            "c/maize.tif",
            "d/stack.nd2",
            "e/notes.tif"
        ]
    );
    let formats: Vec<&Value> = all.iter().map(|f| &f["format"]).collect();
    assert_eq!(
        formats,
        ["ome-tiff", "czi", "imagej-tiff", "nd2"]
            .iter()
            .map(|s| Value::from(*s))
            .chain([Value::Null])
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>(),
        "the format of every processed file; none for the one never read: {all:#?}"
    );
    // Every key of the CLI contract is still there.
    for f in &all {
        for key in ["path", "state", "sha256", "size", "error", "copies"] {
            assert!(f.get(key).is_some(), "{key} missing from {f}");
        }
    }
    assert_eq!(all[0]["copies"][0]["destination"], "nas");

    assert_eq!(
        paths(&listed(&cfg, &["--limit", "2"])),
        ["a/cells.ome.tiff", "b/cells.czi"]
    );
    assert_eq!(
        paths(&listed(&cfg, &["--limit", "2", "--offset", "2"])),
        ["c/maize.tif", "d/stack.nd2"]
    );
    assert_eq!(paths(&listed(&cfg, &["--offset", "4"])), ["e/notes.tif"]);
    assert!(listed(&cfg, &["--offset", "5"]).is_empty());
    assert!(listed(&cfg, &["--limit", "0"]).is_empty());

    assert_eq!(
        paths(&listed(&cfg, &["--state", "quarantined"])),
        ["e/notes.tif"]
    );
    assert_eq!(listed(&cfg, &["--state", "verified"]).len(), 4);
    assert_eq!(listed(&cfg, &["--state", "verified,quarantined"]).len(), 5);
    assert_eq!(
        listed(&cfg, &["--state", "failed", "--state", "quarantined"]).len(),
        1
    );
    assert!(listed(&cfg, &["--state", "purged"]).is_empty());
    assert_eq!(
        paths(&listed(&cfg, &["--state", "verified", "--offset", "3"])),
        ["d/stack.nd2"],
        "the offset counts the filtered rows"
    );

    assert_eq!(listed(&cfg, &["--since", "1h"]).len(), 5);
    assert!(listed(&cfg, &["--since", "2099-01-01T00:00:00Z"]).is_empty());
    assert_eq!(
        listed(&cfg, &["--since", "2000-01-01T00:00:00+02:00"]).len(),
        5
    );

    let text = scopeflow(args!["status", "--config", &cfg, "--state", "verified"]).success();
    let czi = text
        .stdout
        .lines()
        .find(|l| l.contains("b/cells.czi"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(czi.split_whitespace().any(|w| w == "czi"), "{czi}");
    assert!(!text.stdout.contains("notes.tif"), "{text}");
});

sftest!(status_refuses_bad_filters, |dir: Dir| {
    let cfg = delivered(&dir);
    for bad in [
        &["--since", "yesterday"][..],
        &["--state", "done"],
        &["--limit", "-1"],
    ] {
        let mut a = args!["status", "--config", &cfg, "--json"];
        a.extend(bad.iter().map(std::ffi::OsString::from));
        let r = scopeflow(a).exit(2);
        assert!(r.stdout.is_empty(), "{r}");
    }
});

sftest!(status_json_of_a_pipeline_never_run_is_empty, |dir: Dir| {
    dir.mkdir("acq");
    let cfg = dir.create(
        "pipeline.yaml",
        "version: 1\nname: idle\nwatch:\n  - path: acq\ndestinations:\n  - name: nas\n    kind: local\n    path: nas\n",
    );
    let v = scopeflow(args!["status", "--config", &cfg, "--json", "--limit", "3"])
        .success()
        .stdout_json();
    assert_eq!(v, serde_json::json!({"files": [], "rejected_events": []}));
    assert!(!dir.join(".scopeflow").exists(), "no journal created");
});
