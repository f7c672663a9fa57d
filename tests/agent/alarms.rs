//! QC alarms end to end: a saturated sample raises exactly one alarm per rule and channel,
//! delivered once to a real webhook receiver and to the desktop log even across `kill -9` and
//! restarts while the receiver is down; a clean sample raises none. E-mail goes to a real
//! aiosmtpd server, plain and as a relay demanding STARTTLS and a login.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::expect::*;
use super::world::*;
use crate::util::*;

/// Answers every POST with 200 and appends its body, one JSON document per line, to a file.
const RECEIVER: &str = r#"
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// A child process killed when the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_listening(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing listens on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_receiver(dir: &Path, port: u16, out: &Path) -> Server {
    let script = dir.join("receiver.py");
    fs::write(&script, RECEIVER).expect("write the receiver");
    let child = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .arg(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("start the webhook receiver");
    wait_listening(port);
    Server(child)
}

fn received(out: &Path) -> Vec<Value> {
    fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON body"))
        .collect()
}

fn all_verified(files: &[Value], n: usize) -> bool {
    files.len() == n && files.iter().all(|f| state_of(f) == "verified")
}

sftest!(saturated_sample_alarms_once_across_kill9, |dir: Dir| {
    let port = free_port();
    let hook = dir.join("hook.jsonl");
    let env = Env::new(
        dir,
        &Pipeline::new("1s").top(&format!(
            "qc: {{saturation_max: 0.001, snr_min: 5, notify: [{{webhook: \"http://127.0.0.1:{port}/hook\"}}, {{desktop: true}}]}}"
        )),
    );
    env.put("saturated.tif", &SYNTH_F.path());
    env.put("clean.tif", &SYNTH_A.path());
    let mut failures = Vec::new();
    // The receiver is down: the alarm is journaled, the desktop line written, the webhook
    // retried; then the agent dies without a word.
    let mut agent = env.start_agent("agent.log");
    env.wait_status(
        "both files verified",
        Duration::from_secs(120),
        &mut failures,
        |f| all_verified(f, 2),
    );
    std::thread::sleep(Duration::from_millis(500));
    agent.kill9();
    let _receiver = start_receiver(env.dir.path(), port, &hook);
    let mut p = Problems::new();
    p.check(received(&hook).is_empty(), || {
        "a POST before the receiver was up".into()
    });
    // Restarted, the agent delivers the journaled alarm; killed and restarted again, it must
    // not send it twice.
    let mut agent = env.start_agent("agent.log");
    let start = Instant::now();
    while received(&hook).is_empty() && start.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(200));
    }
    agent.kill9();
    let mut agent = env.start_agent("agent.log");
    std::thread::sleep(Duration::from_secs(4));
    agent.kill9();
    let bodies = received(&hook);
    p.check(bodies.len() == 1, || {
        format!(
            "expected exactly one webhook POST, got {}: {bodies:?}",
            bodies.len()
        )
    });
    if let Some(b) = bodies.first() {
        p.check(b["file"] == "saturated.tif", || format!("file: {b}"));
        p.check(b["rule"] == "saturation_max", || format!("rule: {b}"));
        p.check(b["channel"] == 0, || format!("channel: {b}"));
        p.check(b["threshold"].as_f64() == Some(0.001), || {
            format!("threshold: {b}")
        });
        let truth = SYNTH_F.truth()["channels"][0]["saturation_fraction"].clone();
        check_number(&mut p, "value", &b["value"], &truth, 1e-9);
        p.check(
            b["instrument"].as_str().is_some_and(|s| !s.is_empty()),
            || format!("instrument: {b}"),
        );
        p.check(
            b["text"].as_str().is_some_and(|t| {
                t.contains("saturated.tif") && t.contains("saturation") && t.contains("0.001")
            }),
            || format!("text: {b}"),
        );
    }
    let log = fs::read_to_string(env.dir.join("agent.log")).unwrap_or_default();
    let desktop = log.matches("QC alarm on ").count();
    p.check(desktop == 1, || {
        format!("expected one desktop alarm line in agent.log, found {desktop}")
    });
    let clean: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("QC alarm") && l.contains("clean.tif"))
        .collect();
    p.check(clean.is_empty(), || {
        format!("the clean sample raised alarms: {clean:?}")
    });
    env.finish(p);
});

/// A python that has aiosmtpd: Debian's `python3-aiosmtpd` lives in the system python, which
/// another python (pyenv, a venv) may shadow on the PATH.
fn smtp_python() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import aiosmtpd"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("no python with aiosmtpd: bash scripts/install-deps.sh installs python3-aiosmtpd")
}

sftest!(email_alarm_reaches_a_real_smtp_server, |dir: Dir| {
    let port = free_port();
    let smtp = Server(
        Command::new(smtp_python())
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-d",
                "-c",
                "aiosmtpd.handlers.Debugging",
                "-l",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                fs::File::create(dir.join("smtp.out")).expect("smtp log"),
            ))
            .stderr(Stdio::from(
                fs::File::create(dir.join("smtp.err")).expect("smtp log"),
            ))
            .spawn()
            .expect("start aiosmtpd (python3-aiosmtpd)"),
    );
    wait_listening(port);
    let out: PathBuf = dir.join("smtp.out");
    let env = Env::new(
        dir,
        &Pipeline::new("1s").top(&format!(
            "qc:\n  saturation_max: 0.001\n  notify:\n    - email:\n        host: 127.0.0.1\n        port: {port}\n        starttls: false\n        from: scope@example.org\n        to: [facility@example.org]"
        )),
    );
    env.put("saturated.tif", &SYNTH_F.path());
    let run = env.once(Duration::from_secs(120));
    let mut p = Problems::new();
    p.check(run.status.success(), || {
        format!("agent --once failed:\n{run}")
    });
    drop(smtp);
    let mail = fs::read_to_string(&out).unwrap_or_default();
    p.check(mail.contains("facility@example.org"), || {
        format!("no mail to facility@example.org in:\n{mail}")
    });
    p.check(
        mail.contains("saturated.tif") && mail.contains("saturation_max"),
        || format!("the mail does not name the file and rule:\n{mail}"),
    );
    env.finish(p);
});

// A relay as facilities run them: STARTTLS before anything, then a login. The login comes from
// the environment variables the pipeline names; the relay's certificate (signed by a test CA)
// is checked against `SSL_CERT_FILE` (the system store the agent's verifier reads on Linux).
sftest!(
    email_alarm_over_starttls_with_a_login_from_the_environment,
    |dir: Dir| {
        let port = free_port();
        dir.create(
        "relay.ext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
        let openssl = |args: &[&str]| {
            let ok = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .stderr(Stdio::null())
                .status()
                .expect("run openssl (scripts/install-deps.sh installs it)");
            assert!(ok.success(), "openssl {args:?} failed");
        };
        let key = ["-newkey", "rsa:2048", "-nodes"];
        openssl(
            &[
                &[
                    "req",
                    "-x509",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=scopeflow test CA",
                ][..],
                &key,
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req", "-subj", "/CN=localhost"][..],
                &key,
                &["-keyout", "relay.key", "-out", "relay.csr"],
            ]
            .concat(),
        );
        openssl(&[
            "x509",
            "-req",
            "-in",
            "relay.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "relay.ext",
            "-out",
            "relay.pem",
        ]);
        let (ca, cert, key) = (
            dir.join("ca.pem"),
            dir.join("relay.pem"),
            dir.join("relay.key"),
        );
        let out = dir.join("mail.jsonl");
        let smtp = Server(
            Command::new(smtp_python())
                .arg(repo_root().join("tests/tools/smtp_tls_server.py"))
                .arg(port.to_string())
                .args([&cert, &key])
                .args(["scope-alarms", "s3cret pass"])
                .arg(&out)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(
                    fs::File::create(dir.join("smtp.err")).expect("smtp log"),
                ))
                .spawn()
                .expect("start tests/tools/smtp_tls_server.py"),
        );
        wait_listening(port);
        let env = Env::new(
        dir,
        &Pipeline::new("1s").top(&format!(
            "qc:\n  saturation_max: 0.001\n  notify:\n    - email:\n        host: 127.0.0.1\n        port: {port}\n        from: scope@example.org\n        to: [facility@example.org]\n        username_env: SCOPEFLOW_TEST_SMTP_USER\n        password_env: SCOPEFLOW_TEST_SMTP_PASSWORD"
        )),
    );
        env.put("saturated.tif", &SYNTH_F.path());
        let cert_file = ca.to_string_lossy().into_owned();
        let run = env.once_with(
            Duration::from_secs(120),
            &[
                ("SCOPEFLOW_TEST_SMTP_USER", "scope-alarms"),
                ("SCOPEFLOW_TEST_SMTP_PASSWORD", "s3cret pass"),
                ("SSL_CERT_FILE", &cert_file),
            ],
        );
        let mut p = Problems::new();
        p.check(run.status.success(), || {
            format!("agent --once failed:\n{run}")
        });
        drop(smtp);
        let mails: Vec<Value> = fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        p.check(
            mails.len() == 1
                && mails[0]["login"] == "scope-alarms"
                && mails[0]["tls"] == true
                && mails[0]["rcpt_tos"][0] == "facility@example.org",
            || format!("expected one mail sent over TLS after the login: {mails:?}"),
        );
        let data = mails
            .first()
            .map(|m| m["data"].to_string())
            .unwrap_or_default();
        p.check(
            data.contains("saturated.tif") && data.contains("saturation_max"),
            || format!("the mail does not name the file and rule:\n{data}"),
        );
        env.finish(p);
    }
);
