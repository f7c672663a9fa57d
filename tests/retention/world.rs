//! One test's world: a pipeline YAML with a retention block, a watched folder `acq/`, local
//! destinations under `nas/`, and helpers to run the agent, the robot and `status`.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// A clock long after any ingest of this test run: everything is older than `purge_after`.
pub const LATER: &str = "2030-01-01T00:00:00Z";
/// 40 days after [`LATER`]: past the default `trash_keep` (30d) of anything trashed then.
pub const LATER_40D: &str = "2030-02-10T00:00:00Z";

/// Small real images: ingest is quick and needs no python.
pub fn small(i: usize) -> PathBuf {
    let s = [REAL_MAIZE, REAL_LARGEIMG, REAL_METAMORPH, REAL_NIKON];
    s[i % s.len()].path()
}

pub struct World {
    pub dir: Dir,
    pub cfg: PathBuf,
    pub watch: PathBuf,
    pub state_dir: PathBuf,
    trace: RefCell<Vec<String>>,
}

impl World {
    /// `dests`: local destinations, each at `nas/<name>`; `retention`: lines under `retention:`.
    pub fn new(dir: Dir, dests: &[&str], retention: &[&str]) -> World {
        let mut y = String::from(
            "version: 1\nname: retention-test\nwatch:\n  - path: acq\n    \
             include: [\"**/*.tif\", \"**/*.tiff\"]\n    settle: 1s\n\
             state: .scopeflow/state.db\nsteps: [metadata]\ndestinations:\n",
        );
        for d in dests {
            y.push_str(&format!(
                "  - name: {d}\n    kind: local\n    path: nas/{d}\n"
            ));
            dir.mkdir(format!("nas/{d}"));
        }
        if !retention.is_empty() {
            y.push_str("retention:\n");
            for l in retention {
                y.push_str(&format!("  {l}\n"));
            }
        }
        World::with_yaml(dir, &y)
    }

    pub fn with_yaml(dir: Dir, yaml: &str) -> World {
        let cfg = dir.create("pipeline.yaml", yaml);
        let watch = dir.mkdir("acq");
        let state_dir = dir.join(".scopeflow");
        World {
            trace: RefCell::new(vec![format!("==== pipeline.yaml ====\n{yaml}")]),
            dir,
            cfg,
            watch,
            state_dir,
        }
    }

    pub fn note(&self, s: impl Into<String>) {
        self.trace.borrow_mut().push(s.into());
    }

    /// Fails the test with everything run so far.
    pub fn fail(&self, msg: impl std::fmt::Display) -> ! {
        panic!("{msg}\n{}", self.trace.borrow().join("\n"));
    }

    pub fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(msg());
        }
    }

    /// Copies `src` into the watched folder at `rel`.
    pub fn put(&self, rel: &str, src: &Path) -> PathBuf {
        let to = self.watch.join(rel);
        fs::create_dir_all(to.parent().expect("a parent")).expect("create folders");
        fs::copy(src, &to)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), to.display()));
        to
    }

    /// `agent --once`, which must verify everything.
    pub fn agent(&self) {
        let r = scopeflow(args!["-v", "agent", "--config", self.cfg, "--once"]);
        self.note(format!("==== agent --once ====\n{r}"));
        if !r.status.success() {
            self.fail("agent --once failed");
        }
    }

    /// `retention plan|run --config CFG --now NOW --json`: the run and its JSON.
    /// `now` empty: no `--now` (the system clock).
    pub fn robot(&self, cmd: &str, now: &str) -> (Run, Value) {
        let mut a = args!["retention", cmd, "--config", self.cfg, "--json"];
        if !now.is_empty() {
            a.extend(args!["--now", now]);
        }
        let r = scopeflow(a);
        self.note(format!("==== retention {cmd} --now {now} ====\n{r}"));
        eprintln!("retention {cmd}: {:.1} s", r.elapsed.as_secs_f64());
        if !r.status.success() {
            self.fail(format!("retention {cmd} exited {:?}", r.code()));
        }
        let v = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| self.fail(format!("retention {cmd}: stdout is not JSON: {e}")));
        (r, v)
    }

    pub fn run(&self, now: &str) -> Value {
        self.robot("run", now).1
    }

    pub fn plan(&self, now: &str) -> Value {
        self.robot("plan", now).1
    }

    /// `status --json` files.
    pub fn status(&self) -> Vec<Value> {
        let r = scopeflow(args!["status", "--config", self.cfg, "--json"]).success();
        let v: Value = r.stdout_json();
        self.note(format!("==== status ====\n{}", r.stdout));
        v["files"].as_array().cloned().unwrap_or_default()
    }

    /// The status entry of the newest version of `rel`.
    pub fn current(&self, rel: &str) -> Value {
        self.status()
            .into_iter()
            .filter(|f| f["path"] == rel)
            .max_by_key(|f| f["version"].as_u64())
            .unwrap_or_else(|| self.fail(format!("{rel} is not in the status")))
    }

    pub fn state(&self, rel: &str) -> String {
        self.current(rel)["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Every record of the audit file.
    pub fn audit(&self) -> Vec<Value> {
        let p = self.state_dir.join("retention-audit.jsonl");
        let text = fs::read_to_string(&p).unwrap_or_default();
        self.note(format!("==== {} ====\n{text}", p.display()));
        text.lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| self.fail(format!("audit line {l:?}: {e}")))
            })
            .collect()
    }
}

/// The reason given for `path` in the `purge` or `keep` list of a report.
pub fn reason(report: &Value, list: &str, path: &str) -> Option<String> {
    report[list]
        .as_array()?
        .iter()
        .find(|e| e["path"] == path)
        .and_then(|e| e["reason"].as_str())
        .map(str::to_string)
}

/// Paths in a report's list, sorted.
pub fn paths(report: &Value, list: &str) -> Vec<String> {
    let mut v: Vec<String> = report[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["path"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
