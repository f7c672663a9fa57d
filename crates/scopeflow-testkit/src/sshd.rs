//! A real OpenSSH server on 127.0.0.1: fresh host and user keys, a known_hosts file, a
//! served folder; killed (with every session it forked) when dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const INSTALL: &str = "apt-get install -y openssh-server openssh-client";

pub struct Sshd {
    /// Keys, config, served and scratch folders; removed on drop.
    pub dir: TempDir,
    pub port: u16,
    /// The folder the destination root lives in (the root itself is `root`, made by the puts).
    pub served: PathBuf,
    /// `served/scopeflow`: not created, so that the first put makes it.
    pub root: PathBuf,
    /// The user running the tests, who logs in with `user_key`.
    pub user: String,
    pub user_key: PathBuf,
    pub known_hosts: PathBuf,
    /// A folder outside the served one, for the files a test sends.
    pub scratch: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

/// Called with the served folder before the server starts (to mount a small file system).
pub type Prepare = Box<dyn FnOnce(&Path)>;

#[derive(Default)]
pub struct SshdOptions {
    pub password_auth: bool,
    pub prepare: Option<Prepare>,
}

fn sshd_binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("sshd"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/sshd")])
        .find(|p| p.is_file())
}

/// A new ed25519 key pair at `path` (no passphrase); returns the public key line.
pub fn keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ssh-keygen: {e} ({INSTALL})"));
    assert!(
        out.status.success(),
        "ssh-keygen -f {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(path.with_extension("pub")).expect("public key")
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8(out.stdout)
        .expect("user name")
        .trim()
        .to_owned()
}

impl Sshd {
    /// `None` (the test then passes, saying so) only when SCOPEFLOW_SKIP_SSHD=1 and sshd is missing.
    pub fn start() -> Option<Sshd> {
        Sshd::start_with(SshdOptions::default())
    }

    pub fn start_with(options: SshdOptions) -> Option<Sshd> {
        if sshd_binary().is_none() {
            if std::env::var("SCOPEFLOW_SKIP_SSHD").as_deref() == Ok("1") {
                eprintln!("SKIPPED: sshd not found and SCOPEFLOW_SKIP_SSHD=1");
                return None;
            }
            panic!(
                "OpenSSH's sshd is needed for the SFTP tests: {INSTALL} \
                 (or set SCOPEFLOW_SKIP_SSHD=1 to skip them)"
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let host_pub = keygen(&d.join("host_ed25519"));
        let user_pub = keygen(&d.join("user_ed25519"));
        fs::write(d.join("authorized_keys"), user_pub).expect("authorized_keys");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let key = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let known_hosts = d.join("known_hosts");
        fs::write(&known_hosts, format!("[127.0.0.1]:{port} {key}\n")).expect("known_hosts");
        let served = d.join("served");
        fs::create_dir(&served).expect("served folder");
        if let Some(prepare) = options.prepare {
            prepare(&served);
        }
        let scratch = d.join("scratch");
        fs::create_dir(&scratch).expect("scratch folder");
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
        .expect("sshd_config");
        // Privilege separation needs this folder when sshd runs as root.
        let _ = fs::create_dir_all("/run/sshd");
        let mut me = Sshd {
            root: served.join("scopeflow"),
            user_key: d.join("user_ed25519"),
            user: current_user(),
            dir,
            port,
            served,
            known_hosts,
            scratch,
            config,
            child: None,
        };
        me.launch();
        Some(me)
    }

    /// Starts the server process (again, after `kill`) on the same port, keys and folder.
    pub fn launch(&mut self) {
        assert!(self.child.is_none(), "sshd is already running");
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
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
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
            for p in descendants(child.id()) {
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
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
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

/// Every process below `pid`, children first, from /proc (none where there is no /proc):
/// sshd forks a process per session, which killing sshd alone would leave serving.
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
