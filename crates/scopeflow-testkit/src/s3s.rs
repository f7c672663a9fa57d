//! A real S3-compatible server: `s3s-fs` (an S3 server over a local folder) on 127.0.0.1, a
//! free port, a fresh folder and generated credentials; killed on drop.
//!
//! s3s-fs keeps each object as a plain file at `<root>/<bucket>/<key>` (metadata in sidecar
//! files at the root), written to a temporary and renamed, so tests can look at, check and
//! damage objects right there (`prefix_dir`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "imaging";
const INSTALL: &str = "cargo install s3s-fs@0.14.1 --features binary --locked";

pub struct S3Server {
    pub root: PathBuf,
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
    log: PathBuf,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
}

/// The s3s-fs program: `SCOPEFLOW_S3S_FS`, else `s3s-fs` on the PATH or in cargo's bin folder.
/// `None` (the test then passes, saying so) only when `SCOPEFLOW_SKIP_S3S_FS=1`.
fn program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCOPEFLOW_S3S_FS") {
        return Some(PathBuf::from(p));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(exe("s3s-fs")))
                .collect()
        })
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = cargo_home {
        candidates.push(home.join("bin").join(exe("s3s-fs")));
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    if std::env::var("SCOPEFLOW_SKIP_S3S_FS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: s3s-fs is not installed (SCOPEFLOW_SKIP_S3S_FS=1)");
        return None;
    }
    panic!(
        "the S3 tests need the s3s-fs server: install it with `{INSTALL}` (or set SCOPEFLOW_SKIP_S3S_FS=1 to skip them)"
    );
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl S3Server {
    /// A server over a fresh temporary folder, with the bucket created.
    pub fn start() -> Option<S3Server> {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("s3");
        std::fs::create_dir(&root).expect("server root");
        let mut s = S3Server::start_in(&root)?;
        s._tmp = Some(tmp);
        Some(s)
    }

    /// A server over `root` (an existing folder, e.g. a small tmpfs), bucket created.
    pub fn start_in(root: &Path) -> Option<S3Server> {
        program()?;
        std::fs::create_dir_all(root.join(BUCKET)).expect("bucket folder");
        let stamp = format!("{}{}", std::process::id(), free_port());
        let mut s = S3Server {
            root: root.to_owned(),
            port: free_port(),
            access_key: format!("AK{stamp}"),
            secret_key: format!("SK{stamp}secret"),
            log: std::env::temp_dir().join(format!("s3s-fs-{stamp}.log")),
            child: None,
            _tmp: None,
        };
        s.run();
        Some(s)
    }

    /// (Re)starts the server process on the same port and folder.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log");
        let child = Command::new(program().expect("s3s-fs"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--access-key",
                &self.access_key,
                "--secret-key",
                &self.secret_key,
            ])
            .arg(&self.root)
            // Debug logs record each request's parsed input, checksum headers included.
            .env("RUST_LOG", "s3s_fs=debug,s3s=info")
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start s3s-fs ({INSTALL}): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "s3s-fs exited at start ({status}); log: {}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not listen on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server at once (no graceful shutdown), as a crash or a power cut would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the objects under `prefix` lie on the server's disk.
    pub fn prefix_dir(&self, prefix: &str) -> PathBuf {
        let mut p = self.root.join(BUCKET);
        p.extend(prefix.split('/').filter(|s| !s.is_empty()));
        p
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}
