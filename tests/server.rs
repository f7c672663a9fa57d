//! The agent reporting to the central server, both as real processes: events wait in the
//! agent's journal while the server is down, arrive once each when it is up, and the server's
//! catalog then shows every file with its QC and copies.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// A `scopeflow server` process on a loopback port, stopped when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
}

impl Server {
    pub(crate) fn start(db: &str, port: u16, log: &Path) -> Server {
        let log_file = std::fs::File::create(log).expect("server log");
        let child = Command::new(scopeflow_bin())
            .args([
                "server",
                "--db",
                db,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start scopeflow server");
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if get(&format!("{}/health", server.url), None).is_ok_and(|(code, _)| code == 200) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "scopeflow server did not answer /health within 30 s; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// `(status, body)` of a GET, with an optional bearer token.
fn get(url: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    Ok((code, resp.text().map_err(|e| e.to_string())?))
}

pub(crate) fn get_json(url: &str, token: &str) -> Value {
    let (code, body) = get(url, Some(token)).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(code, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
}

/// `(status, content type, body)` of a GET with the viewer token.
pub(crate) fn get_bytes(url: &str, token: &str) -> (u16, String, Vec<u8>) {
    let r = reqwest::blocking::Client::new()
        .get(url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        ctype,
        r.bytes().map(|b| b.to_vec()).unwrap_or_default(),
    )
}

pub(crate) fn token(db: &str, args: &[&str]) -> String {
    let mut all = vec!["server", "token", "create", "--db", db];
    all.extend_from_slice(args);
    let run = scopeflow(all).success();
    run.stdout_last_line()
        .unwrap_or_else(|| panic!("no token printed\n{run}"))
        .trim()
        .to_string()
}

pub(crate) fn pipeline(dir: &Dir, port: u16) -> PathBuf {
    dir.mkdir("acquisitions/day1");
    dir.mkdir("nas");
    dir.create(
        "pipeline.yaml",
        format!(
            "version: 1\nname: confocal-7\nwatch:\n  - path: acquisitions\n    include: [\"**/*.tif\"]\n    settle: 1s\n\
             state: state/journal.db\nsteps: [metadata, qc, convert]\n\
             destinations:\n  - name: nas\n    kind: local\n    path: nas/confocal-7\n\
             server:\n  url: http://127.0.0.1:{port}\n  token_file: agent.token\n"
        ),
    )
}

pub(crate) fn files_of(url: &str, token: &str) -> Vec<Value> {
    get_json(&format!("{url}/api/files?agent=confocal-7"), token)["files"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

sftest!(events_wait_for_a_down_server_and_arrive_once, |dir: Dir| {
    let db = format!("sqlite://{}", dir.join("server.db").display());
    let agent_token = token(&db, &["--agent", "confocal-7"]);
    let viewer = token(&db, &["--viewer"]);
    assert_ne!(agent_token, viewer);
    dir.create("agent.token", format!("{agent_token}\n"));
    let port = free_port();
    let cfg = pipeline(&dir, port);
    for (rel, sample) in [("day1/a.tif", SYNTH_A), ("day1/b.tif", SYNTH_F)] {
        std::fs::copy(sample.path(), dir.join("acquisitions").join(rel)).expect("copy sample");
    }

    // Server down: the agent's work is not held back, and its events wait in the journal.
    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();

    let server = Server::start(&db, port, &dir.join("server.log"));
    assert!(
        files_of(&server.url, &viewer).is_empty(),
        "nothing sent yet"
    );
    // The next run sends what waited (nothing new to process).
    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();
    let files = files_of(&server.url, &viewer);
    assert_eq!(files.len(), 2, "{files:#?}");
    let status = scopeflow(args!["status", "--config", &cfg, "--json"])
        .success()
        .stdout_json();
    for f in &files {
        let path = f["path"].as_str().expect("path");
        let local = status["files"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["path"] == path))
            .unwrap_or_else(|| panic!("{path} not in the agent's status"));
        assert_eq!(f["state"], "verified", "{f:#}");
        assert_eq!(f["sha256"], local["sha256"], "{f:#}");
        assert_eq!(f["size"], local["size"], "{f:#}");
        assert_eq!(f["agent"], "confocal-7");
        let copies = f["copies"].as_array().expect("copies");
        assert_eq!(copies.len(), 1, "{f:#}");
        assert_eq!(copies[0]["destination"], "nas");
        assert!(copies[0]["verified_at"].is_string(), "{f:#}");
        let channels = f["qc"]["channels"].as_array().expect("qc channels");
        assert!(!channels.is_empty(), "{f:#}");
        assert!(channels[0]["saturation_fraction"].is_number(), "{f:#}");
    }
    let agents = get_json(&format!("{}/api/agents", server.url), &viewer);
    let me = agents["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "confocal-7"))
        .unwrap_or_else(|| panic!("agent missing: {agents:#}"));
    assert_eq!(me["files"], 2, "{me:#}");
    assert_eq!(me["failed"], 0, "{me:#}");
    assert!(me["last_seen"].is_string(), "{me:#}");

    // Sent once each: a further run (and its heartbeat) adds nothing.
    let before = files_of(&server.url, &viewer);
    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();
    assert_eq!(files_of(&server.url, &viewer), before);

    // Writes need the agent's own token.
    let (code, _) = get(&format!("{}/api/files", server.url), None).expect("GET");
    assert_eq!(code, 401);
});

sftest!(
    a_running_agent_reports_new_files_and_failures,
    |dir: Dir| {
        let db = format!("sqlite://{}", dir.join("server.db").display());
        dir.create("agent.token", token(&db, &["--agent", "confocal-7"]) + "\n");
        let viewer = token(&db, &["--viewer"]);
        let port = free_port();
        let cfg = pipeline(&dir, port);
        let server = Server::start(&db, port, &dir.join("server.log"));
        let log = std::fs::File::create(dir.join("agent.log")).expect("agent log");
        let mut agent = Command::new(scopeflow_bin())
            .args(args!["agent", "--config", &cfg])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the agent");
        std::fs::copy(SYNTH_A.path(), dir.join("acquisitions/day1/new.tif")).expect("copy");
        dir.create("acquisitions/day1/broken.tif", b"II*\0garbage");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = Vec::new();
        while Instant::now() < deadline {
            last = files_of(&server.url, &viewer);
            let state = |p: &str| {
                last.iter()
                    .find(|f| f["path"] == p)
                    .map(|f| f["state"].as_str().unwrap_or("").to_string())
            };
            if state("day1/new.tif").as_deref() == Some("verified")
                && matches!(
                    state("day1/broken.tif").as_deref(),
                    Some("failed" | "quarantined")
                )
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let _ = agent.kill();
        let _ = agent.wait();
        let broken = last
            .iter()
            .find(|f| f["path"] == "day1/broken.tif")
            .unwrap_or_else(|| panic!("broken file never reported: {last:#?}"));
        assert!(
            broken["error"]
                .as_str()
                .is_some_and(|e| e.contains("broken.tif")),
            "the server shows the reason, naming the file: {broken:#}"
        );
        assert!(
            last.iter()
                .any(|f| f["path"] == "day1/new.tif" && f["state"] == "verified"),
            "new file not verified on the server within 60 s: {last:#?}\nagent log:\n{}",
            std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
        );
    }
);
