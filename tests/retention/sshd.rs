//! A real OpenSSH server on 127.0.0.1 for the SFTP end-to-end test (after the SFTP crate's
//! own test support): fresh host and user keys in the test's folder, a known_hosts file, and a
//! kill that takes every session it forked with it.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Sshd {
    pub port: u16,
    pub user: String,
    pub user_key: PathBuf,
    pub known_hosts: PathBuf,
    config: PathBuf,
    child: Option<Child>,
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

fn keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run ssh-keygen: {e} (apt-get install -y openssh-client)")
        });
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(path.with_extension("pub")).expect("public key")
}

impl Sshd {
    /// Keys and config under `dir`. `None` only when sshd is missing and
    /// `SCOPEFLOW_SKIP_SSHD=1`; missing otherwise is a failure saying what to install.
    pub fn start(dir: &Path) -> Option<Sshd> {
        if sshd_binary().is_none() {
            if std::env::var("SCOPEFLOW_SKIP_SSHD").as_deref() == Ok("1") {
                eprintln!("SKIPPED: sshd not found and SCOPEFLOW_SKIP_SSHD=1");
                return None;
            }
            panic!(
                "OpenSSH's sshd is needed for the SFTP retention test: apt-get install -y \
                 openssh-server (or set SCOPEFLOW_SKIP_SSHD=1 to skip it)"
            );
        }
        fs::create_dir_all(dir).expect("key folder");
        let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
            .expect("user name")
            .trim()
            .to_owned();
        let host_pub = keygen(&dir.join("host_ed25519"));
        let user_pub = keygen(&dir.join("user_ed25519"));
        fs::write(dir.join("authorized_keys"), user_pub).expect("authorized_keys");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("port")
            .port();
        let key = host_pub
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let known_hosts = dir.join("known_hosts");
        fs::write(&known_hosts, format!("[127.0.0.1]:{port} {key}\n")).expect("known_hosts");
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\n\
                 AuthorizedKeysFile {ak}\nStrictModes no\nPermitRootLogin yes\nUsePAM no\n\
                 PubkeyAuthentication yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n\
                 MaxStartups 64\nMaxSessions 64\n",
                hk = dir.join("host_ed25519").display(),
                pid = dir.join("sshd.pid").display(),
                ak = dir.join("authorized_keys").display(),
            ),
        )
        .expect("sshd_config");
        // Privilege separation needs this folder when sshd runs as root.
        let _ = fs::create_dir_all("/run/sshd");
        let mut me = Sshd {
            port,
            user,
            user_key: dir.join("user_ed25519"),
            known_hosts,
            config,
            child: None,
        };
        me.launch();
        Some(me)
    }

    pub fn launch(&mut self) {
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
        while !answers(self.port) {
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

    /// Kills the server and every session it forked, as a cut cable would.
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
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the server's banner and sends ours, so that sshd does not log the probe as an error.
fn answers(port: u16) -> bool {
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
