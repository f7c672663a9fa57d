//! `scopeflow batch` with the local engine: a folder of real samples converted into the agent's
//! destination layout (validated, `sha256sum -c`), state and records under
//! `DEST/.scopeflow-batch/ID/`, resume redoing nothing, and the files reported to a real
//! central server with an agent token. The Slurm engine is in `batch_slurm`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::server::{Server, free_port, get_bytes, get_json, token};
use crate::util::*;

/// The batch id: the last word of the last line `batch submit` prints.
pub(crate) fn batch_id(run: &Run) -> String {
    run.stdout_last_line()
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("no batch id printed\n{run}"))
        .to_string()
}

/// Copies the real samples (images and what is not an image) into `from/SUB/`.
pub(crate) fn backlog(from: &Path, subs: &[&str]) -> Vec<String> {
    let mut images = Vec::new();
    for sub in subs {
        std::fs::create_dir_all(from.join(sub)).expect("backlog folder");
        for s in ALL_SAMPLES.iter().filter(|s| s.origin == Origin::Real) {
            std::fs::copy(s.path(), from.join(sub).join(s.file)).expect("copy sample");
            images.push(format!("{sub}/{}", s.file));
        }
        std::fs::write(from.join(sub).join("notes.txt"), "not an image").expect("notes");
    }
    images.sort();
    images
}

/// `path → [record events]` over every task's record file.
pub(crate) fn records(dest: &Path, id: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let tasks = dest.join(".scopeflow-batch").join(id).join("tasks");
    for e in std::fs::read_dir(&tasks).expect("tasks folder").flatten() {
        for line in std::fs::read_to_string(e.path()).unwrap().lines() {
            let r: Value = serde_json::from_str(line).expect("a whole record");
            if let Some(p) = r["path"].as_str() {
                out.entry(p.to_string())
                    .or_default()
                    .push(r["event"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

/// `sha256sum -c` passes at DEST, lists no path twice, and lists every file under `ome-zarr/`
/// and `qc/` (each QC document with its thumbnail); no temporary is left under a final name's folder.
pub(crate) fn check_manifest(dest: &Path) {
    check_manifest_with(dest, false)
}

/// As [`check_manifest`], for a DEST whose writer was just killed: the temporary it was
/// writing and an output it had not listed yet may still be there (its next run replaces
/// both); every listed file must be there and intact.
pub(crate) fn check_manifest_after_kill(dest: &Path) {
    check_manifest_with(dest, true)
}

fn check_manifest_with(dest: &Path, killed: bool) {
    let out = Command::new("sha256sum")
        .args(["--quiet", "--strict", "-c", "manifest-sha256.txt"])
        .current_dir(dest)
        .output()
        .expect("sha256sum");
    assert!(
        out.status.success(),
        "sha256sum -c at {}: {}{}",
        dest.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dest.join("manifest-sha256.txt")).unwrap();
    let mut listed: Vec<&str> = text.lines().map(|l| &l[66..]).collect();
    let n = listed.len();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), n, "a path is listed twice");
    let mut on_disk = Vec::new();
    let mut stack = vec![dest.join("ome-zarr"), dest.join("qc")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if killed && name.starts_with('.') && name.contains(".scopeflow-tmp-") {
                continue;
            }
            assert!(
                !name.contains(".scopeflow-tmp-"),
                "temporary left: {}",
                e.path().display()
            );
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(dest)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                on_disk.push(rel);
            }
        }
    }
    let missing: Vec<&&str> = listed
        .iter()
        .filter(|l| !on_disk.iter().any(|d| d == **l))
        .collect();
    assert!(missing.is_empty(), "listed but not on disk: {missing:?}");
    // A killed writer may have published an output it had not listed yet: its next run
    // takes that output away and writes it again.
    if !killed {
        let unlisted: Vec<&String> = on_disk
            .iter()
            .filter(|d| !listed.contains(&d.as_str()))
            .collect();
        assert!(unlisted.is_empty(), "on disk but not listed: {unlisted:?}");
        // Every converted file's thumbnail sits beside its QC document.
        for (qc, stem) in on_disk
            .iter()
            .filter_map(|p| Some((p, p.strip_prefix("qc/")?.strip_suffix(".json")?)))
        {
            let png = format!("qc/{stem}.png");
            assert!(on_disk.contains(&png), "no {png} beside {qc}");
        }
    }
}

/// The agent's names: `ome-zarr/DIR/STEM.ome.zarr`, with the sample's truth when it has one.
pub(crate) fn validate_tiffs(from: &Path, dest: &Path, sub: &str) {
    for s in ALL_SAMPLES.iter().filter(|s| s.origin == Origin::Real) {
        // Three `aics_…` files share a stem: the first in path order keeps the plain name.
        if s.file == "aics_s_1_t_1_c_1_z_1.tiff" || s.file == "aics_s_1_t_1_c_1_z_1.ome.tiff" {
            continue;
        }
        let zarr = dest.join(format!("ome-zarr/{sub}/{}.ome.zarr", s.stem()));
        validate(&zarr, &from.join(sub).join(s.file), Some(&s.truth_path()));
        let qc: Value = read_json(&dest.join(format!("qc/{sub}/{}.json", s.stem())));
        assert_eq!(
            qc["sha256"].as_str(),
            Some(sha256_file(&s.path()).as_str()),
            "{}",
            s.file
        );
    }
}

pub(crate) fn status_json(dest: &Path, id: &str, extra: &[&str]) -> (Run, Value) {
    let mut a = args!["batch", "status", id, "--to", dest, "--json"];
    a.extend(extra.iter().map(std::ffi::OsString::from));
    let run = scopeflow(a);
    let doc = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    (run, doc)
}

sftest!(
    local_engine_converts_real_samples_once_and_resume_redoes_nothing,
    |dir: Dir| {
        let from = dir.mkdir("archive");
        let dest = dir.join("dest");
        let images = backlog(&from, &["2019/day1", "2020"]);
        let run = scopeflow(args![
            "batch",
            "submit",
            "--from",
            &from,
            "--to",
            &dest,
            "--engine",
            "local",
            "--tasks",
            "3",
            "--include",
            "**/*.tif",
            "--include",
            "**/*.tiff"
        ])
        .success();
        let id = batch_id(&run);
        let (_, st) = status_json(&dest, &id, &[]);
        assert_eq!(st["batch"], id.as_str());
        let files = st["files"].as_array().expect("files[]");
        let paths: Vec<&str> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(
            paths,
            images.iter().map(String::as_str).collect::<Vec<_>>(),
            "notes.txt is not planned"
        );
        assert!(
            files
                .iter()
                .all(|f| f["state"] == "done" && f["error"].is_null()),
            "{st:#}"
        );
        assert_eq!(st["tasks"].as_array().unwrap().len(), 3);
        for sub in ["2019/day1", "2020"] {
            validate_tiffs(&from, &dest, sub);
        }
        check_manifest(&dest);
        let before = records(&dest, &id);
        assert!(
            before.values().all(|r| r == &["file_start", "file_done"]),
            "{before:?}"
        );

        let again = scopeflow(args!["batch", "resume", &id, "--to", &dest]).success();
        assert!(again.stdout.contains("nothing to resume"), "{again}");
        assert_eq!(records(&dest, &id), before);
        // The raw files are read in place, never modified.
        for img in &images {
            let name = Path::new(img).file_name().unwrap().to_str().unwrap();
            assert_eq!(
                sha256_file(&from.join(img)),
                sha256_file(&real_samples_dir().join(name))
            );
        }
    }
);

sftest!(
    a_second_batch_over_the_same_dest_adopts_finished_outputs,
    |dir: Dir| {
        // A task killed after publishing but before recording leaves complete outputs: the next run
        // recognises them by the raw file's sha256 instead of converting again.
        let from = dir.mkdir("archive");
        let dest = dir.join("dest");
        backlog(&from, &["a"]);
        let first = scopeflow(args![
            "batch",
            "submit",
            "--from",
            &from,
            "--to",
            &dest,
            "--engine",
            "local",
            "--include",
            "**/maize_clsm.tif"
        ])
        .success();
        let second = scopeflow(args![
            "batch",
            "submit",
            "--from",
            &from,
            "--to",
            &dest,
            "--engine",
            "local",
            "--include",
            "**/maize_clsm.tif"
        ])
        .success();
        let (a, b) = (batch_id(&first), batch_id(&second));
        assert_ne!(a, b);
        let rec = dest.join(".scopeflow-batch").join(&b).join("tasks/0.jsonl");
        let text = std::fs::read_to_string(&rec).unwrap();
        assert!(text.contains(r#""adopted":true"#), "{text}");
        check_manifest(&dest);
    }
);

sftest!(unknown_batch_and_bad_flags_are_usage_errors, |dir: Dir| {
    let r = scopeflow(args![
        "batch",
        "status",
        "no-such-batch",
        "--to",
        dir.path()
    ])
    .exit(2);
    assert!(r.stderr.contains("no-such-batch"), "{r}");
    let empty = dir.mkdir("empty");
    let r = scopeflow(args![
        "batch",
        "submit",
        "--from",
        &empty,
        "--to",
        dir.join("d"),
        "--engine",
        "local"
    ])
    .exit(2);
    assert!(r.stderr.contains("no image"), "{r}");
});

sftest!(
    a_batch_reports_its_files_and_qc_to_the_central_server,
    |dir: Dir| {
        let db = format!("sqlite://{}", dir.join("server.db").display());
        let agent = token(&db, &["--agent", "archive-migration"]);
        let viewer = token(&db, &["--viewer"]);
        let token_file: PathBuf = dir.create("agent.token", format!("{agent}\n"));
        let port = free_port();
        let server = Server::start(&db, port, &dir.join("server.log"));
        let from = dir.mkdir("archive");
        let dest = dir.join("dest");
        let images = backlog(&from, &["x"]);
        let run = scopeflow(args![
            "batch",
            "submit",
            "--from",
            &from,
            "--to",
            &dest,
            "--engine",
            "local",
            "--include",
            "**/*.tif",
            "--server",
            &server.url,
            "--token-file",
            &token_file,
            "--agent",
            "archive-migration"
        ])
        .success();
        let _ = batch_id(&run);
        let doc = get_json(
            &format!("{}/api/files?agent=archive-migration", server.url),
            &viewer,
        );
        let files = doc["files"].as_array().expect("files[]");
        let tifs: Vec<&String> = images
            .iter()
            .filter(|p| Path::new(p).extension().is_some_and(|e| e == "tif"))
            .collect();
        assert_eq!(files.len(), tifs.len(), "{doc:#}");
        for f in files {
            let path = f["path"].as_str().unwrap();
            let raw = from.join(path);
            assert_eq!(
                f["sha256"].as_str(),
                Some(sha256_file(&raw).as_str()),
                "{f}"
            );
            assert!(
                f["qc"]["channels"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty()),
                "{f}"
            );
            // The thumbnail the task wrote beside the QC document, as the agent sends it.
            let url = f["thumbnail"]
                .as_str()
                .unwrap_or_else(|| panic!("no thumbnail on the server: {f}"));
            let (status, ctype, png) = get_bytes(&format!("{}{url}", server.url), &viewer);
            assert_eq!((status, ctype.as_str()), (200, "image/png"), "{url}");
            let stem = path.trim_end_matches(".ome.tif").trim_end_matches(".tif");
            let written = dest.join("qc").join(format!("{stem}.png"));
            assert_eq!(
                png,
                std::fs::read(&written).unwrap_or_else(|e| panic!("{}: {e}", written.display())),
                "{}",
                written.display()
            );
        }
    }
);
