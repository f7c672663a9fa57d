//! A throwaway PostgreSQL cluster for the whole test binary: `initdb` + `pg_ctl` on a free
//! loopback port in a temporary folder. A watchdog shell stops it and removes the folder when
//! the test process exits (statics are never dropped). PostgreSQL refuses to run as root, so as
//! root the cluster runs as the `postgres` user that Debian's package creates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Cluster {
    pub port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A URL to a new, empty database of the shared cluster.
pub async fn fresh_database() -> String {
    let cluster = CLUSTER
        .get_or_init(start)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::SeqCst)
    );
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("{admin}: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    pool.close().await;
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("SCOPEFLOW_PG_BIN") {
        let dir = PathBuf::from(dir);
        if !dir.join("initdb").exists() {
            return Err(format!(
                "SCOPEFLOW_PG_BIN={}: no initdb there",
                dir.display()
            ));
        }
        return Ok(dir);
    }
    // Debian keeps the server programs out of PATH, under /usr/lib/postgresql/VERSION/bin.
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    candidates.sort();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .rev()
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .ok_or_else(|| {
            "PostgreSQL server programs (initdb, pg_ctl) not found: install them with \
             `apt-get install -y postgresql`, or set SCOPEFLOW_PG_BIN to their folder \
             (SCOPEFLOW_SKIP_POSTGRES=1 skips the PostgreSQL tests)"
                .to_string()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The command, run as `postgres` when we are root.
fn pg_command(bin: &Path, program: &str, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn start() -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("scopeflow-pg-")
        .tempdir()
        .map_err(|e| format!("temporary folder for PostgreSQL: {e}"))?
        .keep();
    if root {
        let mut chown = Command::new("chown");
        chown.arg("postgres").arg(&dir);
        run(chown, "chown postgres (the cluster's folder)")?;
    }
    let data = dir.join("data");
    let mut init = pg_command(&bin, "initdb", root);
    init.arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
    run(init, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("free port: {e}"))?
        .port();
    let mut ctl = pg_command(&bin, "pg_ctl", root);
    ctl.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .arg("-o")
        .arg(format!("-p {port} -h 127.0.0.1 -k {} -F", dir.display()))
        .args(["-w", "start"]);
    run(ctl, "pg_ctl start")?;
    let stop = pg_command(&bin, "pg_ctl", root);
    let stop = format!(
        "{} -D '{}' -m immediate stop",
        std::iter::once(stop.get_program())
            .chain(stop.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        data.display()
    );
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(watchdog)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog for the PostgreSQL cluster: {e}"))?;
    Ok(Cluster { port })
}
