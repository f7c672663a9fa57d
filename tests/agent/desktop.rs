//! A QC alarm on a real desktop: a session D-Bus (`dbus-daemon`), a virtual X display (`Xvfb`)
//! and the dunst notification daemon, which says what it displayed (`dunstctl`). The agent
//! finds the session the way it does on an acquisition PC, through `DBUS_SESSION_BUS_ADDRESS`.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::expect::*;
use super::world::*;
use crate::util::*;

/// The desktop's processes, killed when the test ends.
struct Desktop {
    children: Vec<Child>,
    bus: String,
    display: String,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for c in self.children.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `program`, its stderr in `DIR/PROGRAM.log` (printed when a test fails).
fn spawn(dir: &std::path::Path, program: &str, args: &[&str], vars: &[(&str, &str)]) -> Child {
    let log = std::fs::File::create(dir.join(format!("{program}.log"))).expect("a log file");
    Command::new(program)
        .args(args)
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program}: {e} (bash scripts/install-deps.sh installs it)")
        })
}

/// The first line a child prints (an address, a display number), within 20 s.
fn first_line(child: &mut Child, what: &str) -> String {
    let out: ChildStdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what} printed nothing in 20 s"));
    line.trim().to_owned()
}

impl Desktop {
    fn start(dir: &std::path::Path) -> Desktop {
        let mut bus = spawn(
            dir,
            "dbus-daemon",
            &[
                "--session",
                "--nofork",
                "--print-address=1",
                // A socket of its own under /tmp: the test folder's path is longer than a
                // Unix socket path may be.
                "--address=unix:tmpdir=/tmp",
            ],
            &[],
        );
        let address = first_line(&mut bus, "dbus-daemon");
        let mut x = spawn(dir, "Xvfb", &["-displayfd", "1", "-nolisten", "tcp"], &[]);
        let display = format!(":{}", first_line(&mut x, "Xvfb"));
        let mut desktop = Desktop {
            children: vec![bus, x],
            bus: address,
            display,
        };
        let dunst = spawn(dir, "dunst", &[], &desktop.vars());
        desktop.children.push(dunst);
        let start = Instant::now();
        while desktop.dunstctl(&["count", "displayed"]).is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "dunst did not answer on the session bus {} within 20 s; dunst.log:\n{}",
                desktop.bus,
                std::fs::read_to_string(dir.join("dunst.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        desktop
    }

    fn vars(&self) -> [(&str, &str); 2] {
        [
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.as_str()),
            ("DISPLAY", self.display.as_str()),
        ]
    }

    /// `dunstctl ARGS` on this desktop's bus: its output, `None` when it failed.
    fn dunstctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("dunstctl")
            .args(args)
            .envs(self.vars())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every notification dunst showed, as (appname, summary, body, timeout): closed first,
    /// since dunst lists only closed ones in its history (a critical one stays on screen).
    /// dunst does not list the urgency; its timeout says it: 0 (until dismissed) only for a
    /// critical notification in its default configuration.
    fn shown(&self) -> Vec<[String; 4]> {
        let _ = self.dunstctl(&["close-all"]);
        let history = self.dunstctl(&["history"]).unwrap_or_default();
        let doc: Value = serde_json::from_str(&history).unwrap_or(Value::Null);
        let field = |n: &Value, k: &str| n[k]["data"].as_str().unwrap_or_default().to_owned();
        doc["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|page| page.as_array().cloned().unwrap_or_default())
            .map(|n| {
                [
                    field(&n, "appname"),
                    field(&n, "summary"),
                    field(&n, "body"),
                    n["timeout"]["data"].to_string(),
                ]
            })
            .collect()
    }
}

sftest!(
    desktop_alarm_is_shown_by_the_session_notification_daemon,
    |dir: Dir| {
        let desktop = Desktop::start(dir.path());
        let env = Env::new(
            dir,
            &Pipeline::new("1s").top("qc: {saturation_max: 0.001, notify: [{desktop: true}]}"),
        );
        env.put("saturated.tif", &SYNTH_F.path());
        env.put("clean.tif", &SYNTH_A.path());
        let r = env.once_with(ONCE_LIMIT, &desktop.vars());
        let mut p = Problems::new();
        p.check(r.code() == Some(0), || {
            format!("agent --once: exit {:?}, expected 0", r.code())
        });
        let shown = desktop.shown();
        p.check(shown.len() == 1, || {
            format!("expected one notification on the desktop, dunst showed {shown:?}")
        });
        if let Some([app, summary, body, timeout]) = shown.first() {
            p.check(app == "scopeflow", || format!("appname {app:?}"));
            p.check(summary.contains("saturated.tif"), || {
                format!("summary {summary:?} does not name the file")
            });
            p.check(
                body.contains("saturation") && body.contains("0.001") && body.contains("channel 0"),
                || format!("body {body:?} does not name the figure, threshold and channel"),
            );
            p.check(timeout == "0", || {
                format!("timeout {timeout}: not shown until dismissed, so not critical")
            });
        }
        // The log line is written as well: it is what remains on a PC without a session.
        let log = std::fs::read_to_string(env.dir.join("once-1.log")).unwrap_or_default();
        p.check(log.matches("QC alarm on ").count() == 1, || {
            "expected one alarm line in the agent's log".into()
        });
        p.check(!log.contains("not shown on the desktop"), || {
            "the agent says the notification was not shown".into()
        });
        env.finish(p);
    }
);
