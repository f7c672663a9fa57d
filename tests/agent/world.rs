//! One test's world: the pipeline YAML, the test folder, the runs and agent processes, and
//! what a failure prints.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

// ---------------------------------------------------------------------------------------------
// Pipeline files
// ---------------------------------------------------------------------------------------------

pub(super) const DEST_NAME: &str = "nas";
/// The destination, relative to the test folder (and to the YAML in it).
pub(super) const DEST_REL: &str = "nas/confocal";
pub(super) const WATCH_REL: &str = "acq";
pub(super) const STATE_DIR: &str = ".scopeflow";

/// A pipeline YAML in the minimal form of CLI.md plus the options a test needs.
pub(super) struct Pipeline {
    pub(super) settle: &'static str,
    pub(super) poll: bool,
    pub(super) watch_extra: Vec<String>,
    pub(super) top_extra: Vec<String>,
    /// More destinations after `nas`, as YAML list items.
    pub(super) dest_extra: Vec<String>,
}

impl Pipeline {
    pub(super) fn new(settle: &'static str) -> Pipeline {
        Pipeline {
            settle,
            poll: false,
            watch_extra: Vec::new(),
            top_extra: Vec::new(),
            dest_extra: Vec::new(),
        }
    }

    /// One more destination after `nas` (a YAML list item, `  - name: …`).
    pub(super) fn destination(mut self, item: &str) -> Pipeline {
        self.dest_extra.push(item.to_string());
        self
    }

    /// `poll: true` with this `poll_interval`.
    pub(super) fn poll(mut self, interval: &str) -> Pipeline {
        self.poll = true;
        self.watch_extra.push(format!("poll_interval: {interval}"));
        self
    }

    /// One more line under the watch entry (`rescan: 5m`).
    pub(super) fn watch(mut self, line: &str) -> Pipeline {
        self.watch_extra.push(line.to_string());
        self
    }

    /// One more top-level line (`workers: 2`, `retry: {...}`, `steps: [...]`).
    pub(super) fn top(mut self, line: &str) -> Pipeline {
        self.top_extra.push(line.to_string());
        self
    }

    pub(super) fn yaml(&self, name: &str) -> String {
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
        for d in &self.dest_extra {
            y.push_str(d);
        }
        y
    }
}

// ---------------------------------------------------------------------------------------------
// What a failure prints
// ---------------------------------------------------------------------------------------------

pub(super) fn tail(s: &str, max: usize) -> &str {
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
pub(super) struct Trace {
    pub(super) notes: Vec<String>,
    pub(super) logs: Vec<PathBuf>,
    pub(super) last_status: Option<String>,
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

pub(super) struct Env {
    pub(super) dir: Dir,
    pub(super) cfg: PathBuf,
    pub(super) watch: PathBuf,
    pub(super) dest: PathBuf,
    pub(super) trace: RefCell<Trace>,
    pub(super) runs: Cell<u32>,
}

impl Env {
    /// Writes `pipeline.yaml`, creates the watch folder and the destination folder.
    pub(super) fn new(dir: Dir, pipeline: &Pipeline) -> Env {
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

    pub(super) fn note(&self, s: impl Into<String>) {
        self.trace.borrow_mut().notes.push(s.into());
    }

    /// A note that is also printed at once (seen with `--nocapture`).
    pub(super) fn say(&self, s: String) {
        eprintln!("{s}");
        self.note(s);
    }

    pub(super) fn fail(&self, msg: impl fmt::Display) -> ! {
        panic!("{msg}\n{}", self.trace.borrow());
    }

    pub(super) fn finish(&self, p: Problems) {
        p.finish(&*self.trace.borrow());
    }

    /// Copies `src` into the watch folder at `rel` (parents created); returns the new path.
    pub(super) fn put(&self, rel: &str, src: &Path) -> PathBuf {
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
    pub(super) fn once(&self, limit: Duration) -> Run {
        self.once_with(limit, &[])
    }

    /// [`Env::once`] with these variables in the agent's environment (the debug build's test
    /// hooks: `SCOPEFLOW_TEST_PANIC`, `SCOPEFLOW_TEST_ABORT_ON`).
    pub(super) fn once_with(&self, limit: Duration, vars: &[(&str, &str)]) -> Run {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let r = run_bounded(
            self,
            args!["-v", "agent", "--config", self.cfg, "--once"],
            vars,
            limit,
            &format!("once-{n}"),
        );
        self.note(format!("==== agent --once #{n} ====\n{r}"));
        r
    }

    /// `status --config CFG --json`: its `files`, or the run when it failed or printed no such list.
    pub(super) fn try_status(&self) -> Result<Vec<Value>, Run> {
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
    pub(super) fn status(&self) -> Vec<Value> {
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
    pub(super) fn wait_status(
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
    pub(super) fn start_agent(&self, log: &str) -> Agent {
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
pub(super) fn run_bounded(
    env: &Env,
    args: Vec<std::ffi::OsString>,
    vars: &[(&str, &str)],
    limit: Duration,
    name: &str,
) -> Run {
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
        .envs(vars.iter().copied())
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
pub(super) fn kill_group(child: &mut Child) {
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
pub(super) struct Agent {
    pub(super) child: Child,
    pub(super) exit: Option<ExitStatus>,
}

impl Agent {
    pub(super) fn start(cfg: &Path, log: &Path) -> Agent {
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
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("waiting for the agent");
        }
        self.exit
    }

    /// SIGTERM to the agent alone; its exit status and how long it took, or `Err` (after a
    /// SIGKILL) when it did not exit within `limit`.
    pub(super) fn terminate(&mut self, limit: Duration) -> Result<(ExitStatus, Duration), String> {
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
    pub(super) fn kill9(&mut self) {
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
