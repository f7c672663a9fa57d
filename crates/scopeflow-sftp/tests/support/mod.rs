//! A real OpenSSH server on 127.0.0.1 for the tests: fresh host and user keys, a known_hosts
//! file, a served folder; killed (with every session it forked) when dropped.

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scopeflow_sftp::{SftpConfig, SftpDestination};
use tempfile::TempDir;

pub struct Sshd {
    pub dir: TempDir,
    pub port: u16,
    /// The folder the destination root lives in (the root itself is `root`, made by the puts).
    pub served: PathBuf,
    pub root: PathBuf,
    pub user: String,
    pub user_key: PathBuf,
    pub known_hosts: PathBuf,
    pub scratch: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

/// Called with the served folder before the server starts (to mount a small file system).
pub type Prepare = Box<dyn FnOnce(&Path)>;

#[derive(Default)]
pub struct Options {
    pub password_auth: bool,
    pub prepare: Option<Prepare>,
}

fn sshd_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("sshd"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    candidates
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/sshd")])
        .find(|p| p.is_file())
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn keygen(path: &Path) -> String {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path));
    fs::read_to_string(path.with_extension("pub")).unwrap()
}

impl Sshd {
    /// `None` (the test then passes, saying so) only when SCOPEFLOW_SKIP_SSHD=1 and sshd is missing.
    pub fn start() -> Option<Sshd> {
        Sshd::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Option<Sshd> {
        let Some(sshd) = sshd_binary() else {
            if std::env::var("SCOPEFLOW_SKIP_SSHD").as_deref() == Ok("1") {
                eprintln!("SKIPPED: sshd not found and SCOPEFLOW_SKIP_SSHD=1");
                return None;
            }
            panic!(
                "OpenSSH's sshd is needed for the SFTP tests: apt-get install -y openssh-server \
                 (or set SCOPEFLOW_SKIP_SSHD=1 to skip them)"
            );
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        let host_pub = keygen(&d.join("host_ed25519"));
        let user_pub = keygen(&d.join("user_ed25519"));
        fs::write(d.join("authorized_keys"), user_pub).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let key = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        fs::write(d.join("known_hosts"), format!("[127.0.0.1]:{port} {key}\n")).unwrap();
        let served = d.join("served");
        fs::create_dir(&served).unwrap();
        if let Some(prepare) = options.prepare {
            prepare(&served);
        }
        let scratch = d.join("scratch");
        fs::create_dir(&scratch).unwrap();
        let config = d.join("sshd_config");
        let yes_no = if options.password_auth { "yes" } else { "no" };
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\n\
                 AuthorizedKeysFile {ak}\nStrictModes no\nPermitRootLogin yes\nUsePAM no\n\
                 PubkeyAuthentication yes\nPasswordAuthentication {yes_no}\n\
                 KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n\
                 MaxStartups 64\nMaxSessions 64\n",
                hk = d.join("host_ed25519").display(),
                pid = d.join("sshd.pid").display(),
                ak = d.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        // Privilege separation needs this folder when sshd runs as root.
        let _ = fs::create_dir_all("/run/sshd");
        let (user_key, known_hosts) = (d.join("user_ed25519"), d.join("known_hosts"));
        let mut me = Sshd {
            root: served.join("scopeflow"),
            dir,
            port,
            served,
            user,
            user_key,
            known_hosts,
            scratch,
            config,
            child: None,
        };
        let _ = sshd;
        me.launch();
        Some(me)
    }

    fn launch(&mut self) {
        let sshd = sshd_binary().expect("sshd");
        let child = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", sshd.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ssh_answers(self.port) {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("sshd exited at start ({status}); see its messages above");
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server and every session it forked, as a crash or a cut cable would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            for p in descendants(pid) {
                let _ = Command::new("kill")
                    .args(["-9", &p.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn config(&self, name: &str) -> SftpConfig {
        SftpConfig {
            name: name.to_owned(),
            host: "127.0.0.1".into(),
            port: self.port,
            user: self.user.clone(),
            root: self.root.display().to_string(),
            identity: Some(self.user_key.clone()),
            password: None,
            known_hosts: self.known_hosts.clone(),
            parallel: 4,
            remote_sha256: false,
        }
    }

    pub fn destination(&self, name: &str) -> SftpDestination {
        SftpDestination::new(self.config(name))
    }
}

/// Whether an SSH server answers on the port: reads its banner and sends ours, so that sshd
/// does not log the probe as an error.
fn ssh_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 8];
    let ok = s.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-");
    let _ = s.write_all(b"SSH-2.0-probe\r\n");
    ok
}

/// Every process below `pid`, children first, from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent_of.push((p, ppid));
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, pp) in &parent_of {
            if *pp == parent {
                out.push(*p);
                frontier.push(*p);
            }
        }
    }
    out.reverse();
    out
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A small tmpfs mounted for one test, unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// `None` where mounting is not allowed (not root, or a container without CAP_SYS_ADMIN).
    pub fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        out.status.success().then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().unwrap().is_dir() {
                pending.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A file of `size` pseudo-random bytes.
pub fn write_random(path: &Path, size: usize, seed: u64) {
    use std::io::Write;
    if let Some(p) = path.parent() {
        fs::create_dir_all(p).unwrap();
    }
    let mut out = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = size;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        let n = left.min(block.len());
        for chunk in block[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        out.write_all(&block[..n]).unwrap();
        left -= n;
    }
    out.flush().unwrap();
}
