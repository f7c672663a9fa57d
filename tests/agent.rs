//! The acquisition agent end to end: `pipeline check`, `agent --once`, the long-running agent
//! (native events and polling, SIGTERM, SIGKILL), `status --json`, and what lands at a local
//! destination (`raw/`, `ome-zarr/`, `qc/`, `manifest-sha256.txt` checked by the real
//! `sha256sum -c`).
//!
//! Every test writes its pipeline YAML into its own folder with paths relative to the YAML:
//! `acq/` is watched, `nas/confocal/` is the destination, `.scopeflow/state.db` the journal.
//! The agent always runs with `-v`; its output goes to `*.log` files in the test's folder and
//! every failure prints the commands run, their output and the logs.
//!
//! Unix only: the tests signal the agent (`kill`), check permission bits and run `sha256sum`.

#![cfg(unix)]

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::util::*;

// ---------------------------------------------------------------------------------------------
// Pipeline files
// ---------------------------------------------------------------------------------------------

const DEST_NAME: &str = "nas";
/// The destination, relative to the test folder (and to the YAML in it).
const DEST_REL: &str = "nas/confocal";
const WATCH_REL: &str = "acq";
const STATE_DIR: &str = ".scopeflow";

/// A pipeline YAML in the minimal form of CLI.md plus the options a test needs.
struct Pipeline {
    settle: &'static str,
    poll: bool,
    watch_extra: Vec<String>,
    top_extra: Vec<String>,
}

impl Pipeline {
    fn new(settle: &'static str) -> Pipeline {
        Pipeline {
            settle,
            poll: false,
            watch_extra: Vec::new(),
            top_extra: Vec::new(),
        }
    }

    /// `poll: true` with this `poll_interval`.
    fn poll(mut self, interval: &str) -> Pipeline {
        self.poll = true;
        self.watch_extra.push(format!("poll_interval: {interval}"));
        self
    }

    /// One more line under the watch entry (`rescan: 5m`).
    fn watch(mut self, line: &str) -> Pipeline {
        self.watch_extra.push(line.to_string());
        self
    }

    /// One more top-level line (`workers: 2`, `retry: {...}`, `steps: [...]`).
    fn top(mut self, line: &str) -> Pipeline {
        self.top_extra.push(line.to_string());
        self
    }

    fn yaml(&self, name: &str) -> String {
        let mut y = format!(
            "version: 1\n\
             name: {name}\n\
             watch:\n  \
               - path: {WATCH_REL}\n    \
                 include: [\"**/*.tif\", \"**/*.tiff\"]\n    \
                 settle: {}\n    \
                 poll: {}\n",
            self.settle, self.poll
        );
        for l in &self.watch_extra {
            y.push_str(&format!("    {l}\n"));
        }
        y.push_str(&format!("state: {STATE_DIR}/state.db\n"));
        for l in &self.top_extra {
            y.push_str(&format!("{l}\n"));
        }
        y.push_str(&format!(
            "destinations:\n  \
               - name: {DEST_NAME}\n    \
                 kind: local\n    \
                 path: {DEST_REL}\n"
        ));
        y
    }
}

// ---------------------------------------------------------------------------------------------
// What a failure prints
// ---------------------------------------------------------------------------------------------

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// The commands a test ran (with their output) and the agent logs, printed on failure.
#[derive(Default)]
struct Trace {
    notes: Vec<String>,
    logs: Vec<PathBuf>,
    last_status: Option<String>,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.notes {
            writeln!(f, "{n}")?;
        }
        if let Some(s) = &self.last_status {
            writeln!(f, "==== last status poll ====\n{s}")?;
        }
        for log in &self.logs {
            let text = fs::read_to_string(log).unwrap_or_else(|e| format!("(unreadable: {e})"));
            writeln!(
                f,
                "==== agent log {} (last 16000 bytes) ====\n{}\n==== end of log ====",
                log.display(),
                tail(&text, 16_000)
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// One test's world: its folder, pipeline, runs and agent processes
// ---------------------------------------------------------------------------------------------

struct Env {
    dir: Dir,
    cfg: PathBuf,
    watch: PathBuf,
    dest: PathBuf,
    trace: RefCell<Trace>,
    runs: Cell<u32>,
}

impl Env {
    /// Writes `pipeline.yaml`, creates the watch folder and the destination folder.
    fn new(dir: Dir, pipeline: &Pipeline) -> Env {
        let name = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().replace("__", "-"))
            .unwrap_or_else(|| "agent-test".into());
        let yaml = pipeline.yaml(&name);
        let cfg = dir.create("pipeline.yaml", &yaml);
        let watch = dir.mkdir(WATCH_REL);
        let dest = dir.mkdir(DEST_REL);
        let env = Env {
            dir,
            cfg,
            watch,
            dest,
            trace: RefCell::default(),
            runs: Cell::new(0),
        };
        env.note(format!(
            "==== {} ====\n{yaml}==== end of pipeline ====",
            env.cfg.display()
        ));
        env
    }

    fn note(&self, s: impl Into<String>) {
        self.trace.borrow_mut().notes.push(s.into());
    }

    /// A note that is also printed at once (seen with `--nocapture`).
    fn say(&self, s: String) {
        eprintln!("{s}");
        self.note(s);
    }

    fn fail(&self, msg: impl fmt::Display) -> ! {
        panic!("{msg}\n{}", self.trace.borrow());
    }

    fn finish(&self, p: Problems) {
        p.finish(&*self.trace.borrow());
    }

    /// Copies `src` into the watch folder at `rel` (parents created); returns the new path.
    fn put(&self, rel: &str, src: &Path) -> PathBuf {
        let to = self.watch.join(rel);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        fs::copy(src, &to)
            .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", src.display(), to.display()));
        to
    }

    /// `scopeflow -v agent --config CFG --once`, killed (and failing the test) after `limit`.
    fn once(&self, limit: Duration) -> Run {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let r = run_bounded(
            self,
            args!["-v", "agent", "--config", self.cfg, "--once"],
            limit,
            &format!("once-{n}"),
        );
        self.note(format!("==== agent --once #{n} ====\n{r}"));
        r
    }

    /// `status --config CFG --json`: its `files`, or the run when it failed or printed no such list.
    fn try_status(&self) -> Result<Vec<Value>, Run> {
        let r = scopeflow(args!["status", "--config", self.cfg, "--json"]);
        if !r.status.success() {
            return Err(r);
        }
        match serde_json::from_str::<Value>(&r.stdout) {
            Ok(v) => match v.get("files").and_then(Value::as_array) {
                Some(files) => Ok(files.clone()),
                None => Err(r),
            },
            Err(_) => Err(r),
        }
    }

    /// The status now; fails the test when `status --json` does not work.
    fn status(&self) -> Vec<Value> {
        match self.try_status() {
            Ok(files) => {
                self.note(format!(
                    "==== status --json ====\n{}",
                    serde_json::to_string_pretty(&files).unwrap_or_default()
                ));
                files
            }
            Err(r) => self.fail(format!(
                "`status --json` failed or did not print {{\"files\": [...]}}\n{r}"
            )),
        }
    }

    /// Polls the status (every 250 ms) until `done` says so; fails the test after `limit`.
    /// Failed status calls are retried, counted in `status_failures` and reported by the caller.
    fn wait_status(
        &self,
        what: &str,
        limit: Duration,
        status_failures: &mut Vec<String>,
        mut done: impl FnMut(&[Value]) -> bool,
    ) -> Vec<Value> {
        let start = Instant::now();
        loop {
            match self.try_status() {
                Ok(files) => {
                    self.trace.borrow_mut().last_status = Some(format!(
                        "after {:.1}s: {}",
                        start.elapsed().as_secs_f64(),
                        serde_json::to_string_pretty(&files).unwrap_or_default()
                    ));
                    if done(&files) {
                        return files;
                    }
                }
                Err(r) => status_failures.push(r.to_string()),
            }
            if start.elapsed() > limit {
                let last_failure = status_failures
                    .last()
                    .map(|r| {
                        format!(
                            "\nthe last of {} failed status calls:\n{r}",
                            status_failures.len()
                        )
                    })
                    .unwrap_or_default();
                self.fail(format!(
                    "timed out after {:.1}s waiting for: {what}{last_failure}",
                    limit.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Starts `scopeflow -v agent --config CFG` (no `--once`), its output appended to `log`.
    fn start_agent(&self, log: &str) -> Agent {
        let log = self.dir.join(log);
        {
            let mut t = self.trace.borrow_mut();
            if !t.logs.contains(&log) {
                t.logs.push(log.clone());
            }
        }
        Agent::start(&self.cfg, &log)
    }
}

/// Runs the binary with `args`, output to `<name>.out` / `<name>.log` in the test folder, and
/// kills its process group after `limit` (failing the test).
fn run_bounded(env: &Env, args: Vec<std::ffi::OsString>, limit: Duration, name: &str) -> Run {
    let out_path = env.dir.join(format!("{name}.out"));
    let err_path = env.dir.join(format!("{name}.log"));
    let cmd = std::iter::once(scopeflow_bin().as_os_str().to_string_lossy().into_owned())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = fs::File::create(&out_path).expect("create the stdout file");
    let err = fs::File::create(&err_path).expect("create the stderr file");
    let start = Instant::now();
    let mut child = Command::new(scopeflow_bin())
        .args(&args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{cmd}`: {e}"));
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for the agent") {
            break s;
        }
        if start.elapsed() > limit {
            kill_group(&mut child);
            let r = Run {
                cmd: cmd.clone(),
                status: child.wait().expect("wait for the killed agent"),
                stdout: fs::read_to_string(&out_path).unwrap_or_default(),
                stderr: fs::read_to_string(&err_path).unwrap_or_default(),
                elapsed: start.elapsed(),
            };
            env.note(format!("==== {name} (killed) ====\n{r}"));
            env.fail(format!(
                "`{cmd}` did not finish within {:.0}s: killed",
                limit.as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        cmd,
        status,
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// SIGKILL to the child's whole process group (it leads one: `process_group(0)`), so helper
/// processes die with it as in a crash.
fn kill_group(child: &mut Child) {
    let ok = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        let _ = child.kill();
    }
}

/// A long-running `scopeflow agent` (killed with its process group when dropped).
struct Agent {
    child: Child,
    exit: Option<ExitStatus>,
}

impl Agent {
    fn start(cfg: &Path, log: &Path) -> Agent {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
        let _ = writeln!(
            f,
            "==== {} -v agent --config {} ====",
            scopeflow_bin().display(),
            cfg.display()
        );
        let err = f.try_clone().expect("clone the log file");
        let child = Command::new(scopeflow_bin())
            .args(args!["-v", "agent", "--config", cfg])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(f)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the agent: {e}"));
        Agent { child, exit: None }
    }

    /// The exit status if it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("waiting for the agent");
        }
        self.exit
    }

    /// SIGTERM to the agent alone; its exit status and how long it took, or `Err` (after a
    /// SIGKILL) when it did not exit within `limit`.
    fn terminate(&mut self, limit: Duration) -> Result<(ExitStatus, Duration), String> {
        if let Some(s) = self.exited() {
            return Err(format!("the agent had already exited ({s}) before SIGTERM"));
        }
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if !sent.success() {
            return Err(format!("kill -TERM failed: {sent}"));
        }
        let start = Instant::now();
        loop {
            if let Some(s) = self.exited() {
                return Ok((s, start.elapsed()));
            }
            if start.elapsed() > limit {
                self.kill9();
                return Err(format!(
                    "the agent did not exit within {:.1}s of SIGTERM (killed)",
                    limit.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no graceful shutdown) and reap.
    fn kill9(&mut self) {
        if self.exited().is_none() {
            kill_group(&mut self.child);
            self.exit = Some(self.child.wait().expect("wait for the killed agent"));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---------------------------------------------------------------------------------------------
// Files and destinations
// ---------------------------------------------------------------------------------------------

/// REL without its image extension (`.ome.tif`, `.ome.tiff`, `.tif`, `.tiff`), and that extension.
fn split_ext(rel: &str) -> (&str, &str) {
    for ext in [".ome.tiff", ".ome.tif", ".tiff", ".tif"] {
        if let Some(stem) = rel.strip_suffix(ext) {
            return (stem, ext);
        }
    }
    (rel, "")
}

/// Every file (not folder) under `root`, relative, `/`-separated, sorted.
fn walk_files(root: &Path) -> Vec<String> {
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
fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, bool) -> bool) {
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
fn tmp_leftovers(root: &Path) -> Vec<String> {
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
fn zarr_dirs(root: &Path) -> Vec<String> {
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

fn show_list(items: &[String]) -> String {
    const MAX: usize = 20;
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

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
}

/// sha256, size and mtime of the raw files, to prove the agent left them alone.
struct RawSnapshot(BTreeMap<PathBuf, (String, u64, SystemTime)>);

impl RawSnapshot {
    fn take(paths: &[PathBuf]) -> RawSnapshot {
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

    fn check_unchanged(&self, p: &mut Problems) {
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
struct Expected {
    /// `raw/` name: REL, or `STEM~v2.EXT` for a second version.
    raw_name: String,
    out_stem: String,
    sha: String,
}

impl Expected {
    fn v1(rel: &str, sha: &str) -> Expected {
        Expected {
            raw_name: rel.to_string(),
            out_stem: split_ext(rel).0.to_string(),
            sha: sha.to_string(),
        }
    }

    fn v2(rel: &str, sha: &str) -> Expected {
        let (stem, ext) = split_ext(rel);
        Expected {
            raw_name: format!("{stem}~v2{ext}"),
            out_stem: format!("{stem}~v2"),
            sha: sha.to_string(),
        }
    }
}

/// The destination holds exactly `expected` (raw copy, OME-Zarr, QC JSON for each) and nothing
/// but `raw/`, `ome-zarr/`, `qc/` and the manifest at its root.
fn check_destination(p: &mut Problems, dest: &Path, expected: &[Expected]) {
    let allowed = ["raw", "ome-zarr", "qc", "manifest-sha256.txt"];
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
    let want_qc: BTreeSet<String> = expected
        .iter()
        .map(|e| format!("{}.json", e.out_stem))
        .collect();
    let got_qc: BTreeSet<String> = walk_files(&dest.join("qc")).into_iter().collect();
    let extra: Vec<String> = got_qc.difference(&want_qc).cloned().collect();
    p.check(extra.is_empty(), || {
        format!("unexpected files under qc/: {}", show_list(&extra))
    });
}

/// `sha256sum -c manifest-sha256.txt` run in the destination root passes, and the manifest
/// lists every file under `raw/`, `ome-zarr/` and `qc/` exactly once.
fn check_manifest(p: &mut Problems, dest: &Path) {
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

fn check_no_tmp(p: &mut Problems, root: &Path, what: &str) {
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
fn entries<'a>(files: &'a [Value], rel: &str) -> Vec<&'a Value> {
    files
        .iter()
        .filter(|f| f.get("path").and_then(Value::as_str) == Some(rel))
        .collect()
}

fn state_of(e: &Value) -> &str {
    e.get("state").and_then(Value::as_str).unwrap_or("?")
}

fn version_of(e: &Value) -> Option<u64> {
    e.get("version").and_then(Value::as_u64)
}

/// Every entry for one of `rels` is `verified`.
fn all_verified(files: &[Value], rels: &[String]) -> bool {
    rels.iter().all(|r| {
        let e = entries(files, r);
        !e.is_empty() && e.iter().all(|e| state_of(e) == "verified")
    })
}

/// The `error` of a status entry (empty when null or absent).
fn error_text(e: &Value) -> String {
    match e.get("error") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

/// One status entry is a verified version `version` of a file with this sha256 and size, with
/// one verified copy at the destination.
fn check_entry(p: &mut Problems, e: &Value, rel: &str, sha: &str, size: u64, version: u64) {
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
fn check_status_v1(p: &mut Problems, files: &[Value], raws: &[(String, PathBuf)]) {
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

fn report_status_failures(p: &mut Problems, failures: &[String]) {
    if let Some(first) = failures.first() {
        p.push(format!(
            "`status --json` failed {} time(s) while the agent ran; the first:\n{first}",
            failures.len()
        ));
    }
}

fn raws_of(env: &Env, rels: &[&str]) -> Vec<(String, PathBuf)> {
    rels.iter()
        .map(|r| (r.to_string(), env.watch.join(r)))
        .collect()
}

fn expected_v1(raws: &[(String, PathBuf)]) -> Vec<Expected> {
    raws.iter()
        .map(|(rel, path)| Expected::v1(rel, &sha256_file(path)))
        .collect()
}

/// The hash of every file under `root` (to prove a later run left them alone).
fn tree_hashes(root: &Path) -> BTreeMap<String, String> {
    walk_files(root)
        .into_iter()
        .map(|f| {
            let h = sha256_file(&root.join(&f));
            (f, h)
        })
        .collect()
}

/// A small seeded generator (splitmix64): the seed is printed, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
}

/// The seed from `var` when set, else from the clock; printed either way.
fn seed(var: &str) -> u64 {
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

const ONCE_LIMIT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// 1. pipeline check
// ---------------------------------------------------------------------------------------------

const VALID_PIPELINE: &str = r#"version: 1
name: check-ok
watch:
  - path: acq
    include: ["**/*.tif", "**/*.tiff"]
    settle: 5s
    poll: true
    poll_interval: 1s
    rescan: 5m
state: .scopeflow/state.db
steps: [metadata, qc, {convert: {chunk_yx: 256}}]
retry: {max_attempts: 3, backoff: 0s, max_backoff: 1s}
protect_raw: false
workers: 2
destinations:
  - name: nas
    kind: local
    path: nas/confocal
retention:
  purge_after: 60d
  require_verified: [nas]
"#;

/// Three problems: bad duration (line 6), unknown key (line 9), undefined destination (line 16).
const BAD_PIPELINE: &str = r#"version: 1
name: check-bad
watch:
  - path: acq
    include: ["**/*.tif"]
    settle: 5 minutes
    poll: false
state: .scopeflow/state.db
colour: blue
destinations:
  - name: nas
    kind: local
    path: nas/confocal
retention:
  purge_after: 60d
  require_verified: [nas, tape]
"#;

sftest!(pipeline_check_valid, |dir: Dir| {
    dir.mkdir("acq");
    dir.mkdir("nas/confocal");
    let cfg = dir.create("pipeline.yaml", VALID_PIPELINE);
    let r = scopeflow(args!["pipeline", "check", cfg]).success();
    let want = format!("{}: ok", cfg.display());
    if !r.stdout.lines().any(|l| l.trim_end() == want) {
        panic!("stdout has no line `{want}`\n{r}");
    }
});

sftest!(pipeline_check_three_problems, |dir: Dir| {
    dir.mkdir("acq");
    dir.mkdir("nas/confocal");
    let cfg = dir.create("pipeline.yaml", BAD_PIPELINE);
    let r = scopeflow(args!["pipeline", "check", cfg]).exit(2);
    let mut p = Problems::new();
    let prefix = format!("{}:", cfg.display());
    let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    p.check(lines.len() == 3, || {
        format!("{} lines on stdout, expected 3", lines.len())
    });
    // (line, words of which one must be in the message)
    let want: [(u64, &[&str]); 3] = [
        (6, &["5 minutes", "duration"]),
        (9, &["colour"]),
        (16, &["tape"]),
    ];
    let mut seen = BTreeMap::new();
    for l in &lines {
        let Some(rest) = l.strip_prefix(&prefix) else {
            p.push(format!("line {l:?} does not start with `{prefix}`"));
            continue;
        };
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().and_then(|s| s.parse::<u64>().ok());
        let col = parts.next().and_then(|s| s.parse::<u64>().ok());
        let msg = parts.next().unwrap_or("").trim().to_lowercase();
        match (line, col) {
            (Some(line), Some(col)) if col >= 1 => {
                seen.insert(line, msg);
            }
            _ => p.push(format!("line {l:?} is not FILE:LINE:COL: message")),
        }
    }
    for (line, words) in want {
        match seen.get(&line) {
            Some(msg) => p.check(words.iter().any(|w| msg.contains(w)), || {
                format!("the message for line {line} ({msg:?}) mentions none of {words:?}")
            }),
            None => p.push(format!("no problem reported at line {line}")),
        }
    }
    let extra: Vec<u64> = seen
        .keys()
        .filter(|l| ![6, 9, 16].contains(*l))
        .copied()
        .collect();
    p.check(extra.is_empty(), || {
        format!("problems reported at unexpected lines {extra:?}")
    });
    p.finish(&r);
});

sftest!(missing_watch_folder_is_a_config_error, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s"));
    fs::remove_dir(&env.watch).expect("remove the watch folder");
    let r = env.once(Duration::from_secs(60));
    let mut p = Problems::new();
    p.check(r.code() == Some(2), || {
        format!("exit {:?}, expected 2", r.code())
    });
    // The `- path: acq` of the watch entry is line 4.
    let want = format!("{}:4:", env.cfg.display());
    p.check(r.stdout.contains(&want) || r.stderr.contains(&want), || {
        format!("no `{want}COL: message` in the output")
    });
    p.check(!env.dest.join("raw").exists(), || {
        "the destination got files".into()
    });
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 2. --once on three real files
// ---------------------------------------------------------------------------------------------

sftest!(once_basic, |dir: Dir| {
    let env = Env::new(
        dir,
        &Pipeline::new("1s").top("steps: [metadata, qc, {convert: {chunk_yx: 256}}]"),
    );
    let rels = [
        REAL_AICS_OME.file.to_string(),
        format!("plate/{}", REAL_BBBC022.file),
        REAL_NIKON.file.to_string(),
    ];
    env.put(&rels[0], &REAL_AICS_OME.path());
    env.put(&rels[1], &REAL_BBBC022.path());
    env.put(&rels[2], &REAL_NIKON.path());
    let rel_refs: Vec<&str> = rels.iter().map(String::as_str).collect();
    let raws = raws_of(&env, &rel_refs);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());

    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    let zarr = env
        .dest
        .join("ome-zarr")
        .join(format!("{}.ome.zarr", split_ext(&rels[0]).0));
    if zarr.is_dir()
        && let Err(v) = validate_run(&zarr, &raws[0].1, None)
    {
        p.push(format!(
            "validate_omezarr.py rejects {}:\n{v}",
            zarr.display()
        ));
    }
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);

    // A second run finds nothing new: no new version, the destination untouched.
    let before = tree_hashes(&env.dest);
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("second agent --once: exit {:?}, expected 0", r.code())
    });
    let again = env.status();
    p.check(again == files, || {
        "the status changed after a second --once with nothing new".into()
    });
    let after = tree_hashes(&env.dest);
    p.check(before == after, || {
        "the destination changed after a second --once with nothing new".into()
    });
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 3. thirty files in one run
// ---------------------------------------------------------------------------------------------

/// Small samples for the many-file tests (all under 1.1 MB).
fn small_samples() -> [Sample; 4] {
    [SYNTH_F, REAL_MAIZE, REAL_LARGEIMG, REAL_METAMORPH]
}

/// `n` files named `NN_<sample stem><ext>`, every fourth in `run-b/`, cycling through the small
/// samples.
fn put_many(env: &Env, n: usize) -> Vec<(String, PathBuf)> {
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

sftest!(thirty_files, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top("workers: 2"));
    let raws = put_many(&env, 30);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let r = env.once(Duration::from_secs(300));
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 4. a file still being written
// ---------------------------------------------------------------------------------------------

sftest!(slow_writer, |dir: Dir| {
    const SETTLE: Duration = Duration::from_secs(2);
    let env = Env::new(dir, &Pipeline::new("2s"));
    let mut agent = env.start_agent("agent.log");
    // Let it start (and rescan the empty folder), so the file is found by events.
    std::thread::sleep(Duration::from_millis(1000));
    if let Some(s) = agent.exited() {
        env.fail(format!("the agent exited right after starting: {s}"));
    }

    let bytes = fs::read(REAL_AICS_OME.path()).expect("read the sample");
    let target = env.watch.join("slow.ome.tiff");
    let pieces = 20;
    let writer = {
        let target = target.clone();
        let bytes = bytes.clone();
        std::thread::spawn(move || {
            let mut f = fs::File::create(&target).expect("create the slow file");
            let step = bytes.len().div_ceil(pieces);
            let mut last = Instant::now();
            for (i, chunk) in bytes.chunks(step).enumerate() {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(300));
                }
                f.write_all(chunk).expect("append");
                f.flush().expect("flush");
                last = Instant::now();
            }
            last
        })
    };
    let mut done_writing: Option<Instant> = None;
    let mut p = Problems::new();
    let mut early: Vec<String> = Vec::new();
    let mut status_failures = Vec::new();
    let rel = "slow.ome.tiff";
    let mut writer = Some(writer);
    let started = Instant::now();
    let mut polls = 0;
    // Until the writes stopped for SETTLE (less a little for clock granularity), nothing may
    // leave the stable state and nothing may reach the destination.
    loop {
        if writer.as_ref().is_some_and(|w| w.is_finished()) {
            done_writing = writer.take().map(|w| w.join().expect("writer thread"));
        }
        let quiet_until =
            done_writing.and_then(|t| (t + SETTLE).checked_sub(Duration::from_millis(150)));
        if quiet_until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        polls += 1;
        let at = started.elapsed().as_secs_f64();
        for (d, what) in [
            (env.dest.join("raw").join(rel), "raw copy"),
            (env.dest.join("ome-zarr/slow.ome.zarr"), "OME-Zarr"),
            (env.dest.join("qc/slow.json"), "QC JSON"),
        ] {
            if exists_at_all(&d) {
                early.push(format!(
                    "{at:.1}s after the first write: the {what} is at the destination while the \
                     file was still being written (or settling)"
                ));
            }
        }
        match env.try_status() {
            Ok(files) => {
                for e in entries(&files, rel) {
                    let s = state_of(e);
                    if !["discovered", "stable"].contains(&s) {
                        early.push(format!(
                            "{at:.1}s after the first write: state {s:?} (error {:?}) while the \
                             file was still being written (or settling)",
                            error_text(e)
                        ));
                    }
                }
            }
            Err(r) => status_failures.push(r.to_string()),
        }
        if early.len() > 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    env.say(format!(
        "slow_writer: {polls} polls while writing/settling, none saw processing: {}",
        early.is_empty()
    ));
    for e in early {
        p.push(e);
    }
    let files = env.wait_status(
        "the slow file verified",
        SETTLE + Duration::from_secs(40),
        &mut status_failures,
        |files| all_verified(files, &[rel.to_string()]),
    );
    if let Some(last) = done_writing {
        env.say(format!(
            "slow_writer: verified {:.1}s after the last write (settle {}s)",
            last.elapsed().as_secs_f64(),
            SETTLE.as_secs()
        ));
    }
    let final_sha = sha256_file(&target);
    p.check(final_sha == sha256_file(&REAL_AICS_OME.path()), || {
        "the test's writer did not write the whole sample".into()
    });
    let raws = vec![(rel.to_string(), target.clone())];
    check_status_v1(&mut p, &files, &raws);
    match agent.terminate(Duration::from_secs(5)) {
        Ok((s, _)) => p.check(s.success(), || {
            format!("after SIGTERM: {s}, expected exit 0")
        }),
        Err(e) => p.push(e),
    }
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    report_status_failures(&mut p, &status_failures);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 5. polling, for network folders
// ---------------------------------------------------------------------------------------------

sftest!(poll_mode, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").poll("1s").watch("rescan: 5m"));
    let mut agent = env.start_agent("agent.log");
    std::thread::sleep(Duration::from_millis(1000));
    if let Some(s) = agent.exited() {
        env.fail(format!("the agent exited right after starting: {s}"));
    }
    // One file at the top, one in a folder made after the start.
    let rels = [
        "dropped.tif".to_string(),
        "day-2/dropped.ome.tiff".to_string(),
    ];
    env.put(&rels[0], &REAL_MAIZE.path());
    env.put(&rels[1], &REAL_LARGEIMG.path());
    let dropped = Instant::now();
    let mut status_failures = Vec::new();
    // settle 1 s + poll interval 1 s + a few seconds of work.
    let limit = Duration::from_secs(1 + 1 + 10);
    let files = env.wait_status(
        "both dropped files verified (polling)",
        limit,
        &mut status_failures,
        |files| all_verified(files, &rels),
    );
    env.say(format!(
        "poll_mode: verified {:.1}s after the drop",
        dropped.elapsed().as_secs_f64()
    ));
    let mut p = Problems::new();
    let raws = raws_of(&env, &[&rels[0], &rels[1]]);
    check_status_v1(&mut p, &files, &raws);
    match agent.terminate(Duration::from_secs(5)) {
        Ok((s, took)) => p.check(s.success(), || {
            format!(
                "after SIGTERM: {s} (after {:.1}s), expected exit 0",
                took.as_secs_f64()
            )
        }),
        Err(e) => p.push(e),
    }
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    report_status_failures(&mut p, &status_failures);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 6. a corrupt file is quarantined after its attempts, the others go through
// ---------------------------------------------------------------------------------------------

const RETRY_3: &str = "retry: {max_attempts: 3, backoff: 0s, max_backoff: 1s}";

/// Words of which one names why random bytes are not an image.
const NOT_AN_IMAGE: &[&str] = &[
    "tiff",
    "magic",
    "signature",
    "header",
    "format",
    "byte order",
    "unrecogni",
    "unsupported",
    "not a",
    "invalid",
    "corrupt",
];

sftest!(corrupt_quarantined, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    let bad = env.watch.join("bad.tif");
    fs::write(&bad, Rng(7).bytes(64 * 1024)).expect("write the corrupt file");
    env.put("good.tif", &REAL_MAIZE.path());
    let snap = RawSnapshot::take(&[bad.clone(), env.watch.join("good.tif")]);
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(1), || {
        format!("agent --once: exit {:?}, expected 1", r.code())
    });
    let files = env.status();
    let es = entries(&files, "bad.tif");
    p.check(es.len() == 1, || {
        format!("status has {} entries for bad.tif, expected 1", es.len())
    });
    if let Some(e) = es.first() {
        p.check(state_of(e) == "quarantined", || {
            format!("bad.tif: state {:?}, expected quarantined", state_of(e))
        });
        let err = error_text(e).to_lowercase();
        p.check(NOT_AN_IMAGE.iter().any(|w| err.contains(w)), || {
            format!("bad.tif: error {err:?} names no cause (none of {NOT_AN_IMAGE:?})")
        });
        p.check(e.get("attempts").and_then(Value::as_u64) == Some(3), || {
            format!(
                "bad.tif: attempts {}, expected 3",
                e.get("attempts").unwrap_or(&Value::Null)
            )
        });
        let verified_copies = e
            .get("copies")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter(|c| !c.get("verified_at").is_none_or(Value::is_null))
                    .count()
            })
            .unwrap_or(0);
        p.check(verified_copies == 0, || {
            "bad.tif has a verified copy".into()
        });
    }
    let good = raws_of(&env, &["good.tif"]);
    match entries(&files, "good.tif").first() {
        Some(e) => check_entry(
            &mut p,
            e,
            "good.tif",
            &sha256_file(&good[0].1),
            fs::metadata(&good[0].1).map(|m| m.len()).unwrap_or(0),
            1,
        ),
        None => p.push("status has no entry for good.tif"),
    }
    // Only the good file at the destination: nothing of bad.tif (raw, OME-Zarr, QC).
    check_destination(&mut p, &env.dest, &expected_v1(&good));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 7. a file replaced with other content after it was processed
// ---------------------------------------------------------------------------------------------

sftest!(replaced_file, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s"));
    let path = env.put("img.tif", &REAL_METAMORPH.path());
    let (old_sha, old_size) = (sha256_file(&path), fs::metadata(&path).unwrap().len());
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("first agent --once: exit {:?}, expected 0", r.code())
    });
    let raws = raws_of(&env, &["img.tif"]);
    check_status_v1(&mut p, &env.status(), &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    env.finish(p);
    let mut before = tree_hashes(&env.dest);
    before.remove("manifest-sha256.txt"); // gains the second version's lines

    // Overwritten in place with another image.
    fs::write(&path, fs::read(REAL_NIKON.path()).unwrap()).expect("overwrite the raw file");
    let (new_sha, new_size) = (sha256_file(&path), fs::metadata(&path).unwrap().len());
    assert_ne!(old_sha, new_sha);
    let snap = RawSnapshot::take(std::slice::from_ref(&path));
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("second agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    let es = entries(&files, "img.tif");
    p.check(es.len() == 2 && files.len() == 2, || {
        format!(
            "status has {} entries for img.tif ({} in all), expected 2 (versions 1 and 2)",
            es.len(),
            files.len()
        )
    });
    for (version, sha, size) in [(1, &old_sha, old_size), (2, &new_sha, new_size)] {
        match es.iter().find(|e| version_of(e) == Some(version)) {
            Some(e) => check_entry(&mut p, e, "img.tif", sha, size, version),
            None => p.push(format!("status has no version {version} of img.tif")),
        }
    }
    check_destination(
        &mut p,
        &env.dest,
        &[
            Expected::v1("img.tif", &old_sha),
            Expected::v2("img.tif", &new_sha),
        ],
    );
    let after = tree_hashes(&env.dest);
    let touched: Vec<String> = before
        .iter()
        .filter(|(f, h)| after.get(*f) != Some(h))
        .map(|(f, _)| f.clone())
        .collect();
    p.check(touched.is_empty(), || {
        format!(
            "the first version's copies changed or vanished: {}",
            show_list(&touched)
        )
    });
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 8. an unreachable destination fails the run without quarantining; it goes through later
// ---------------------------------------------------------------------------------------------

sftest!(unreachable_destination, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    let rels = ["one.tif", "two.ome.tiff"];
    env.put(rels[0], &REAL_MAIZE.path());
    env.put(rels[1], &REAL_LARGEIMG.path());
    let raws = raws_of(&env, &rels);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let check = scopeflow(args!["pipeline", "check", env.cfg]);
    env.note(format!("==== pipeline check ====\n{check}"));
    if !check.status.success() {
        env.fail("`pipeline check` rejects the pipeline");
    }
    // The NAS "goes away": the destination's parent folder is removed.
    let parent = env.dir.join("nas");
    fs::remove_dir_all(&parent).expect("remove the destination's parent");

    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(1), || {
        format!(
            "agent --once with the destination gone: exit {:?}, expected 1",
            r.code()
        )
    });
    let files = match env.try_status() {
        Ok(files) => files,
        Err(r) => {
            p.push(format!(
                "`status --json` fails while the destination is unreachable:\n{r}"
            ));
            Vec::new()
        }
    };
    for rel in rels.iter().filter(|_| !files.is_empty()) {
        let es = entries(&files, rel);
        p.check(es.len() == 1, || {
            format!("status has {} entries for {rel}, expected 1", es.len())
        });
        for e in es {
            let s = state_of(e);
            p.check(!["verified", "quarantined", "purged"].contains(&s), || {
                format!("{rel}: state {s:?} with the destination gone (expected failed or pending)")
            });
            let err = error_text(e);
            p.check(err.contains(DEST_NAME) || err.contains(DEST_REL), || {
                format!(
                    "{rel}: error {err:?} does not name the destination \
                         ({DEST_NAME:?} or its path)"
                )
            });
        }
    }
    p.check(!exists_at_all(&parent), || {
        format!(
            "the agent re-created the missing destination parent {}",
            parent.display()
        )
    });
    env.finish(p);

    // The NAS is back.
    fs::create_dir_all(&env.dest).expect("recreate the destination");
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!(
            "agent --once with the destination back: exit {:?}, expected 0",
            r.code()
        )
    });
    check_status_v1(&mut p, &env.status(), &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// The destination disappears under a running agent: files fail on it with an error naming it,
// are not quarantined however often they are retried, and go through once it is back.
sftest!(destination_vanishes_while_running, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    let mut agent = env.start_agent("agent.log");
    std::thread::sleep(Duration::from_millis(1000));
    if let Some(s) = agent.exited() {
        env.fail(format!("the agent exited right after starting: {s}"));
    }
    let parent = env.dir.join("nas");
    fs::remove_dir_all(&parent).expect("remove the destination's parent");
    let rels = ["one.tif".to_string(), "two.ome.tiff".to_string()];
    env.put(&rels[0], &REAL_MAIZE.path());
    env.put(&rels[1], &REAL_LARGEIMG.path());
    let raws = raws_of(&env, &[&rels[0], &rels[1]]);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let mut status_failures = Vec::new();
    let mut p = Problems::new();
    let names_dest = |e: &Value| {
        let err = error_text(e);
        err.contains(DEST_NAME) || err.contains(DEST_REL)
    };
    env.wait_status(
        "both files failing on the missing destination, with an error naming it",
        Duration::from_secs(30),
        &mut status_failures,
        |files| {
            rels.iter().all(|r| {
                let es = entries(files, r);
                !es.is_empty() && es.iter().all(|e| names_dest(e))
            })
        },
    );
    // A few seconds of retries (max_backoff 1s): never quarantined, never verified.
    let hold = Instant::now();
    let mut gone: Vec<String> = Vec::new();
    while hold.elapsed() < Duration::from_secs(5) {
        match env.try_status() {
            Ok(files) => {
                for f in &files {
                    let s = state_of(f);
                    if ["verified", "quarantined", "purged"].contains(&s) {
                        gone.push(format!(
                            "{}: state {s:?} while the destination is gone (error {:?})",
                            f.get("path").unwrap_or(&Value::Null),
                            error_text(f)
                        ));
                    }
                }
            }
            Err(r) => status_failures.push(r.to_string()),
        }
        if let Some(s) = agent.exited() {
            gone.push(format!(
                "the agent exited ({s}) while the destination was gone"
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if exists_at_all(&parent) {
        gone.push(format!(
            "the agent re-created the missing destination parent {}",
            parent.display()
        ));
    }
    if !gone.is_empty() {
        for g in gone {
            p.push(g);
        }
        env.finish(p);
        return;
    }

    // The NAS is back.
    fs::create_dir_all(&env.dest).expect("recreate the destination");
    let back = Instant::now();
    let files = env.wait_status(
        "both files verified once the destination is back",
        Duration::from_secs(40),
        &mut status_failures,
        |files| all_verified(files, &rels),
    );
    env.say(format!(
        "destination_vanishes_while_running: verified {:.1}s after the destination came back",
        back.elapsed().as_secs_f64()
    ));
    check_status_v1(&mut p, &files, &raws);
    match agent.terminate(Duration::from_secs(5)) {
        Ok((s, _)) => p.check(s.success(), || {
            format!("after SIGTERM: {s}, expected exit 0")
        }),
        Err(e) => p.push(e),
    }
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    report_status_failures(&mut p, &status_failures);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 9. SIGKILL at random moments: every file still delivered exactly once
// ---------------------------------------------------------------------------------------------

sftest!(kill9_exactly_once, |dir: Dir| {
    const ROUNDS: usize = 20;
    const FILES: usize = 24;
    let started = Instant::now();
    // Small chunks: ~350 files per OME-Zarr, so converting, copying and reading back take
    // long enough for most kills to land in the middle of the work.
    let env = Env::new(
        dir,
        &Pipeline::new("1s")
            .top("workers: 2")
            .top("steps: [metadata, qc, {convert: {chunk_yx: 64}}]"),
    );
    let raws = put_many(&env, FILES);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let seed = seed("SCOPEFLOW_KILL9_SEED");
    let mut rng = Rng(seed);
    let mut p = Problems::new();
    let mut sleeps = Vec::new();
    for round in 1..=ROUNDS {
        let ms = rng.range(50, 1500);
        sleeps.push(ms);
        let mut agent = env.start_agent("agent.log");
        std::thread::sleep(Duration::from_millis(ms));
        if let Some(s) = agent.exited() {
            p.push(format!(
                "round {round}: the agent exited by itself ({s}) before the SIGKILL at {ms} ms"
            ));
        }
        agent.kill9();
    }
    let progress = env
        .try_status()
        .map(|files| {
            let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
            for f in &files {
                *by_state.entry(state_of(f).to_string()).or_default() += 1;
            }
            format!("{by_state:?}")
        })
        .unwrap_or_else(|r| format!("status failed:\n{r}"));
    env.say(format!(
        "kill9: seed {seed}, {ROUNDS} rounds killed after {sleeps:?} ms, {:.1}s; states before \
         the final --once: {progress}",
        started.elapsed().as_secs_f64()
    ));

    let left = Duration::from_secs(180).saturating_sub(started.elapsed());
    let r = env.once(left.max(Duration::from_secs(30)));
    p.check(r.code() == Some(0), || {
        format!("final agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    p.check(files.len() == FILES, || {
        format!("status has {} entries, expected {FILES}", files.len())
    });
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    let count = |sub: &str| walk_files(&env.dest.join(sub)).len();
    let zarrs = zarr_dirs(&env.dest.join("ome-zarr")).len();
    p.check(
        count("raw") == FILES && zarrs == FILES && count("qc") == FILES,
        || {
            format!(
                "the destination holds {} raw files, {zarrs} OME-Zarr, {} QC files; expected \
                 {FILES} of each",
                count("raw"),
                count("qc")
            )
        },
    );
    check_manifest(&mut p, &env.dest);
    check_no_tmp(
        &mut p,
        env.dir.path(),
        "the test folder (destination, state folder, watch folder)",
    );
    snap.check_unchanged(&mut p);
    env.say(format!(
        "kill9: seed {seed}, whole test {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 10. protect_raw
// ---------------------------------------------------------------------------------------------

sftest!(
    #[cfg(unix)]
    protect_raw,
    |dir: Dir| {
        let env = Env::new(dir, &Pipeline::new("1s").top("protect_raw: true"));
        let path = env.put("protected.tif", &REAL_MAIZE.path());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 644");
        let snap = RawSnapshot::take(std::slice::from_ref(&path));
        let r = env.once(ONCE_LIMIT);
        let mut p = Problems::new();
        p.check(r.code() == Some(0), || {
            format!("agent --once: exit {:?}, expected 0", r.code())
        });
        let raws = raws_of(&env, &["protected.tif"]);
        check_status_v1(&mut p, &env.status(), &raws);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        p.check(mode & 0o222 == 0, || {
            format!(
                "the verified raw file is still writable: mode {:o}",
                mode & 0o7777
            )
        });
        check_destination(&mut p, &env.dest, &expected_v1(&raws));
        check_manifest(&mut p, &env.dest);
        snap.check_unchanged(&mut p);
        env.finish(p);
    }
);
