//! `scopeflow batch` on a real one-node Slurm cluster (`scopeflow_testkit::Slurm`): one job
//! array of 3 tasks, one running task cancelled with `scancel`, `batch resume` resubmitting
//! only that shard, `status --wait`; every file converted exactly once (per the records),
//! validated, and listed once in a manifest that `sha256sum -c` passes.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use scopeflow_testkit::Slurm;
use serde_json::Value;

use crate::batch::{backlog, check_manifest, check_manifest_after_kill, records, validate_tiffs};
use crate::util::*;

/// `scopeflow ARGS` against this cluster (`SLURM_CONF`), the batch pointers in `home`.
fn sf(slurm: &Slurm, home: &Path, a: Vec<OsString>) -> (i32, String, String) {
    let (k, v) = slurm.env();
    let out = Command::new(scopeflow_bin())
        .args(&a)
        .env(k, v)
        .env("SCOPEFLOW_BATCH_HOME", home)
        .output()
        .expect("run scopeflow");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(slurm: &Slurm, home: &Path, id: &str, extra: &[&str]) -> (i32, Value) {
    let mut a = args!["batch", "status", id, "--json"];
    a.extend(extra.iter().map(OsString::from));
    let (code, out, err) = sf(slurm, home, a);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, doc)
}

sftest!(
    slurm_array_cancelled_task_resumes_and_converts_each_file_once,
    |dir: Dir| {
        let Some(slurm) = Slurm::start() else { return };
        let home = dir.mkdir("home");
        let from = dir.mkdir("archive");
        let dest = dir.join("dest");
        let subs = ["a", "b", "c", "d", "e"];
        let images = backlog(&from, &subs);
        let (code, out, err) = sf(
            &slurm,
            &home,
            args![
                "batch",
                "submit",
                "--from",
                &from,
                "--to",
                &dest,
                "--engine",
                "slurm",
                "--tasks",
                "3",
                "--include",
                "**/*.tif",
                "--include",
                "**/*.tiff",
                "--sbatch-arg=--cpus-per-task=1"
            ],
        );
        assert_eq!(code, 0, "{out}\n{err}");
        let id = out
            .lines()
            .last()
            .and_then(|l| l.split_whitespace().last())
            .expect("batch id")
            .to_string();

        // Cancel a task while it runs, after its first file and before its last.
        let t0 = Instant::now();
        let (victim, job) = loop {
            let (_, st) = status(&slurm, &home, &id, &[]);
            let running = st["tasks"].as_array().unwrap().iter().find(|t| {
                t["state"] == "RUNNING"
                    && t["done"].as_u64() >= Some(1)
                    && t["done"].as_u64() < Some(t["files"].as_u64().unwrap() - 1)
            });
            if let Some(t) = running {
                break (
                    t["task"].as_u64().unwrap(),
                    t["job"].as_str().unwrap().to_string(),
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "no task ever ran: {st:#}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        slurm.run("scancel", &[&job]);
        let (code, st) = status(&slurm, &home, &id, &["--wait", "--interval", "1"]);
        assert_eq!(code, 1, "a cancelled task leaves files not done: {st:#}");
        let task = &st["tasks"][victim as usize];
        assert_ne!(task["state"], "COMPLETED", "{st:#}");
        assert!(task["done"].as_u64() < task["files"].as_u64(), "{st:#}");
        check_manifest_after_kill(&dest);

        let (code, out, err) = sf(&slurm, &home, args!["batch", "resume", &id]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(
            out.contains(&format!("resubmitted tasks [{victim}]")),
            "{out}"
        );
        let (code, st) = status(&slurm, &home, &id, &["--wait", "--interval", "1"]);
        assert_eq!(code, 0, "{st:#}");
        let files = st["files"].as_array().unwrap();
        assert_eq!(files.len(), images.len());
        assert!(files.iter().all(|f| f["state"] == "done"), "{st:#}");

        // Converted exactly once: one `file_done` per file over every run of every task.
        let recs = records(&dest, &id);
        for img in &images {
            let done = recs[img].iter().filter(|e| *e == "file_done").count();
            assert_eq!(done, 1, "{img}: {:?}", recs[img]);
        }
        let task_log = dest
            .join(".scopeflow-batch")
            .join(&id)
            .join(format!("tasks/{victim}.jsonl"));
        let starts = std::fs::read_to_string(task_log)
            .unwrap()
            .matches("task_start")
            .count();
        assert_eq!(starts, 2, "the cancelled task ran again once");
        for sub in subs {
            validate_tiffs(&from, &dest, sub);
        }
        check_manifest(&dest);
    }
);
