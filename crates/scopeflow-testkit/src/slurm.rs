//! A real one-node Slurm cluster (Debian's `slurmctld`, `slurmd`, `munge`) in a temporary
//! folder: its own munge key and socket, its own ports, state and spool folders, the node's
//! real CPUs and memory (`slurmd -C`). Every Slurm command the test runs must see
//! [`Slurm::env`] (`SLURM_CONF`). One cluster at a time on a machine: a file lock serialises
//! the tests that start one; everything is stopped on drop.

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const INSTALL: &str = "apt-get install -y slurmctld slurmd slurm-client munge";

pub struct Slurm {
    /// Configuration, state, spool, logs and the munge folder; removed on drop.
    pub dir: TempDir,
    pub conf: PathBuf,
    children: Vec<Child>,
    _lock: File,
}

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e} ({INSTALL})"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn chown_munge(path: &Path) {
    run_ok(
        Command::new("chown").args(["-R", "munge:munge"]).arg(path),
        "chown munge",
    );
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Slurm {
    /// `None` (the test then passes, saying so) only when SCOPEFLOW_SKIP_SLURM=1 and Slurm is
    /// missing.
    pub fn start() -> Option<Slurm> {
        if !Path::new("/usr/sbin/slurmctld").exists() || !Path::new("/usr/sbin/munged").exists() {
            if std::env::var_os("SCOPEFLOW_SKIP_SLURM").is_some_and(|v| v == "1") {
                eprintln!(
                    "slurmctld/munged missing and SCOPEFLOW_SKIP_SLURM=1: Slurm test skipped"
                );
                return None;
            }
            panic!("Slurm is missing: {INSTALL} (or SCOPEFLOW_SKIP_SLURM=1)");
        }
        let lock = File::create(std::env::temp_dir().join("scopeflow-slurm-tests.lock"))
            .expect("the Slurm tests' lock file");
        lock.lock().expect("lock the Slurm tests' lock file");
        let dir = tempfile::Builder::new()
            .prefix("scopeflow-slurm-")
            .tempdir()
            .expect("temp folder");
        let root = dir.path();
        // munged (as `munge`) must reach its folder; the tests' files stay private below it.
        run_ok(Command::new("chmod").arg("755").arg(root), "chmod");
        let munge = root.join("munge");
        fs::create_dir_all(&munge).expect("munge folder");
        fs::create_dir_all("/run/munge").expect("/run/munge");
        chown_munge(Path::new("/run/munge"));
        // The socket's folder must be open to all (munged checks); the key sits in a private one.
        let private = munge.join("private");
        fs::create_dir_all(&private).expect("munge key folder");
        let key = private.join("munge.key");
        run_ok(
            Command::new("mungekey")
                .arg("--create")
                .arg("--keyfile")
                .arg(&key),
            "mungekey",
        );
        chown_munge(&munge);
        run_ok(Command::new("chmod").arg("755").arg(&munge), "chmod");
        run_ok(Command::new("chmod").arg("700").arg(&private), "chmod");
        run_ok(Command::new("chmod").arg("600").arg(&key), "chmod");
        let socket = munge.join("munge.socket");
        run_ok(
            Command::new("runuser")
                .args(["-u", "munge", "--", "/usr/sbin/munged"])
                .arg(format!("--key-file={}", key.display()))
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--pid-file={}", munge.join("munged.pid").display()))
                .arg(format!("--log-file={}", munge.join("munged.log").display()))
                .arg(format!(
                    "--seed-file={}",
                    munge.join("munged.seed").display()
                )),
            "munged",
        );
        for sub in ["state", "spool", "log"] {
            fs::create_dir_all(root.join(sub)).expect("slurm folder");
        }
        // The node's line as slurmd itself reports it (first line of `slurmd -C`).
        let node = run_ok(Command::new("slurmd").arg("-C"), "slurmd -C");
        let node = node
            .lines()
            .find(|l| l.starts_with("NodeName="))
            .expect("slurmd -C prints NodeName=")
            .to_string();
        let name = node
            .split_whitespace()
            .next()
            .and_then(|w| w.strip_prefix("NodeName="))
            .expect("node name")
            .to_string();
        let p = |s: &str| root.join(s).display().to_string();
        let conf = root.join("slurm.conf");
        fs::write(
            &conf,
            format!(
                "ClusterName=scopeflowtest\n\
                 SlurmctldHost={name}(127.0.0.1)\n\
                 SlurmUser=root\nSlurmdUser=root\n\
                 SlurmctldPort={ctld}\nSlurmdPort={slurmd}\n\
                 AuthType=auth/munge\nAuthInfo=socket={socket}\n\
                 StateSaveLocation={state}\nSlurmdSpoolDir={spool}\n\
                 SlurmctldPidFile={log}/slurmctld.pid\nSlurmdPidFile={log}/slurmd.pid\n\
                 SlurmctldLogFile={log}/slurmctld.log\nSlurmdLogFile={log}/slurmd.log\n\
                 ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
                 SchedulerType=sched/backfill\nMpiDefault=none\nReturnToService=2\n\
                 SchedulerParameters=batch_sched_delay=0\n\
                 AccountingStorageType=accounting_storage/none\n\
                 JobAcctGatherType=jobacct_gather/none\nJobCompType=jobcomp/none\n\
                 KillWait=5\nMinJobAge=300\nInactiveLimit=0\nSlurmdTimeout=300\n\
                 {node} NodeAddr=127.0.0.1 State=UNKNOWN\n\
                 PartitionName=debug Nodes={name} Default=YES MaxTime=INFINITE State=UP\n",
                ctld = free_port(),
                slurmd = free_port(),
                socket = socket.display(),
                state = p("state"),
                spool = p("spool"),
                log = p("log"),
            ),
        )
        .expect("slurm.conf");
        let mut slurm = Slurm {
            conf,
            children: Vec::new(),
            _lock: lock,
            dir,
        };
        for (daemon, args) in [("slurmctld", &["-D", "-c"][..]), ("slurmd", &["-D"][..])] {
            let child = slurm
                .command(&format!("/usr/sbin/{daemon}"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {daemon}: {e} ({INSTALL})"));
            slurm.children.push(child);
            if daemon == "slurmctld" {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        slurm.wait_idle(&name);
        Some(slurm)
    }

    /// `SLURM_CONF` pointing at this cluster: set it on every Slurm command (and on the
    /// program under test, which runs `sbatch`, `squeue`…).
    pub fn env(&self) -> (&'static str, &Path) {
        ("SLURM_CONF", &self.conf)
    }

    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let (k, v) = self.env();
        c.env(k, v);
        c
    }

    /// Runs a Slurm client command; panics with its output when it fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        run_ok(self.command(program).args(args), program)
    }

    fn wait_idle(&self, node: &str) {
        let t0 = Instant::now();
        loop {
            let out = self
                .command("sinfo")
                .args(["-h", "-n", node, "-o", "%T"])
                .output();
            if let Ok(o) = &out
                && String::from_utf8_lossy(&o.stdout).trim() == "idle"
            {
                return;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                let log = self.dir.path().join("log");
                panic!(
                    "the Slurm node never became idle: sinfo {out:?}\nslurmctld.log:\n{}\nslurmd.log:\n{}\nmunged.log:\n{}",
                    log_tail(&log.join("slurmctld.log")),
                    log_tail(&log.join("slurmd.log")),
                    log_tail(&self.dir.path().join("munge/munged.log"))
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn kill_pid_file(path: &Path) {
    if let Ok(pid) = fs::read_to_string(path) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        // Jobs first (their slurmstepd would outlive slurmd), then the daemons, then munged.
        let _ = self
            .command("scancel")
            .args(["--full", "--partition=debug"])
            .status();
        std::thread::sleep(Duration::from_secs(1));
        for c in self.children.iter_mut().rev() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in &mut self.children {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        kill_pid_file(&self.dir.path().join("munge/munged.pid"));
    }
}
