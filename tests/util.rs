//! Shared machinery: locating the binary, python and the sample files; a temporary directory per
//! test; running commands with a time limit and printing everything when a check fails.
//!
//! Environment variables (all optional):
//! - `SCOPEFLOW_BIN`: the `scopeflow` binary (default: `<target dir>/<profile>/scopeflow`, next to
//!   the test binary's `deps/` folder, so `CARGO_TARGET_DIR` is honoured automatically);
//! - `SCOPEFLOW_PYTHON`: a python with `shared/tools/requirements.txt` installed (default:
//!   `$HOME/.cache/scopeflow/venv/bin/python`, made by `scripts/setup-python.sh`);
//! - `SCOPEFLOW_SHARED`: the shared folder with `tools/` and `samples/real/` (default: `../shared`
//!   beside the repository);
//! - `SCOPEFLOW_SAMPLE_CACHE`: where the synthetic samples are generated (default:
//!   `<target dir>/scopeflow-samples`);
//! - `SCOPEFLOW_TEST_TIMEOUT`: seconds one command may run before it is killed (default 900).
//!
//! Nothing here skips a test: a missing binary, python or shared folder is a failure with a
//! message saying how to get it, so CI can never pass without them.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Seed of the synthetic samples: `make_samples.py`'s default, written out so the cache key says it.
pub const SEED: u64 = 20261122;

// ---------------------------------------------------------------------------------------------
// Test macros
// ---------------------------------------------------------------------------------------------

/// `args!["convert", &path, "--json"]`: a command line of mixed `&str`/`Path`/`String` pieces.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        vec![$(::std::ffi::OsString::from(AsRef::<::std::ffi::OsStr>::as_ref(&$a))),*]
    };
}

/// `sftest!(name, |dir: Dir| { ... })`: a test with its own empty directory named after it.
macro_rules! sftest {
    ($(#[$meta:meta])* $name:ident, |$dir:ident: Dir| $body:expr) => {
        #[test]
        $(#[$meta])*
        fn $name() {
            let $dir = $crate::util::Dir::new(concat!(module_path!(), "::", stringify!($name)));
            $body
        }
    };
}

/// `for_each_sample!(check)`: one test per sample (synthetic and real), each calling
/// `check(&Dir, &Sample)`, named after the sample.
macro_rules! for_each_sample {
    ($check:path) => {
        for_each_sample!(@emit $check;
            synth_a_plain_2d_u16 => SYNTH_A,
            synth_b_ome_czyx_u16 => SYNTH_B,
            synth_c_imagej_tzcyx_u16 => SYNTH_C,
            synth_d_bigtiff_tiled_zyx_u16 => SYNTH_D,
            synth_f_plain_2d_u8 => SYNTH_F,
            synth_g_ome_zyx_f32 => SYNTH_G,
            real_aics_ome_tiff => REAL_AICS_OME,
            real_aics_imagej_tiff => REAL_AICS_IMAGEJ,
            real_bbbc022_imagej_cyx => REAL_BBBC022,
            real_cancer_cell_migration_pages => REAL_CANCER,
            real_metamorph => REAL_METAMORPH,
            real_nikon_rgb_deflate => REAL_NIKON,
            real_largeimg_ome_bigtiff_tiled => REAL_LARGEIMG,
            real_maize_clsm_u8 => REAL_MAIZE,
        );
    };
    (@emit $check:path; $($test:ident => $sample:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                let dir = $crate::util::Dir::new(concat!(module_path!(), "::", stringify!($test)));
                $check(&dir, &$crate::util::$sample);
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Samples
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written by `shared/tools/make_samples.py` into the sample cache.
    Synthetic,
    /// A real file in `shared/samples/real/`.
    Real,
}

/// One sample image with a `<file>.truth.json` beside it.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub file: &'static str,
    pub origin: Origin,
    /// The `format` `inspect` must report, where the contract names it (OME-TIFF, ImageJ TIFF).
    pub format: Option<&'static str>,
}

const fn synthetic(file: &'static str, format: Option<&'static str>) -> Sample {
    Sample {
        file,
        origin: Origin::Synthetic,
        format,
    }
}

const fn real(file: &'static str, format: Option<&'static str>) -> Sample {
    Sample {
        file,
        origin: Origin::Real,
        format,
    }
}

const OME: Option<&str> = Some("ome-tiff");
const IMAGEJ: Option<&str> = Some("imagej-tiff");

pub const SYNTH_A: Sample = synthetic("a_plain_2d_u16.tif", None);
pub const SYNTH_B: Sample = synthetic("b_ome_czyx_u16.ome.tif", OME);
pub const SYNTH_C: Sample = synthetic("c_imagej_tzcyx_u16.tif", IMAGEJ);
pub const SYNTH_D: Sample = synthetic("d_bigtiff_tiled_zyx_u16.tif", None);
pub const SYNTH_F: Sample = synthetic("f_plain_2d_u8.tif", None);
pub const SYNTH_G: Sample = synthetic("g_ome_zyx_f32.ome.tif", OME);
pub const REAL_AICS_OME: Sample = real("aics_s_1_t_1_c_1_z_1.ome.tiff", OME);
pub const REAL_AICS_IMAGEJ: Sample = real("aics_s_1_t_1_c_1_z_1.tiff", IMAGEJ);
pub const REAL_BBBC022: Sample = real("bbbc022_IXMtest_A02_s9.tif", IMAGEJ);
pub const REAL_CANCER: Sample = real("cancer_cell_migration_crop.tif", None);
pub const REAL_METAMORPH: Sample = real("cellprofiler_MetamorphImage.tif", None);
pub const REAL_NIKON: Sample = real("cellprofiler_NikonTIF.tif", None);
pub const REAL_LARGEIMG: Sample = real("cellprofiler_largeimg.ome.tiff", OME);
pub const REAL_MAIZE: Sample = real("maize_clsm.tif", IMAGEJ);

/// Every sample `for_each_sample!` covers (kept in the same order).
pub const ALL_SAMPLES: [Sample; 14] = [
    SYNTH_A,
    SYNTH_B,
    SYNTH_C,
    SYNTH_D,
    SYNTH_F,
    SYNTH_G,
    REAL_AICS_OME,
    REAL_AICS_IMAGEJ,
    REAL_BBBC022,
    REAL_CANCER,
    REAL_METAMORPH,
    REAL_NIKON,
    REAL_LARGEIMG,
    REAL_MAIZE,
];

impl Sample {
    pub fn path(&self) -> PathBuf {
        match self.origin {
            Origin::Synthetic => synthetic_samples_dir().join(self.file),
            Origin::Real => real_samples_dir().join(self.file),
        }
    }

    pub fn truth_path(&self) -> PathBuf {
        let mut p = self.path().into_os_string();
        p.push(".truth.json");
        PathBuf::from(p)
    }

    pub fn truth(&self) -> Value {
        read_json(&self.truth_path())
    }

    pub fn is_ome_tiff(&self) -> bool {
        self.format == OME
    }

    /// The file name without its image extensions (`b_ome_czyx_u16.ome.tif` → `b_ome_czyx_u16`).
    pub fn stem(&self) -> &'static str {
        let mut s = self.file;
        for ext in [".tif", ".tiff", ".ome"] {
            s = s.strip_suffix(ext).unwrap_or(s);
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

/// The repository root (the parent of this package's manifest folder).
pub fn repo_root() -> PathBuf {
    // At run time: a test binary reused from a shared target folder (CI keeps one) must not
    // carry the path of the checkout that compiled it.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .parent()
        .expect("tests/ has a parent folder")
        .to_path_buf()
}

/// `<target dir>/<profile>`: the test binary runs from `<target dir>/<profile>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    let deps = exe.parent().expect("test binary has a parent folder");
    deps.parent()
        .expect("deps/ has a parent folder")
        .to_path_buf()
}

/// `<target dir>` (or `<target dir>/<triple>` when cross-compiling), for caches and scratch folders.
fn target_dir() -> PathBuf {
    let profile = profile_dir();
    profile.parent().map(Path::to_path_buf).unwrap_or(profile)
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The `scopeflow` binary under test.
pub fn scopeflow_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = env_path("SCOPEFLOW_BIN").unwrap_or_else(|| {
            profile_dir().join(format!("scopeflow{}", std::env::consts::EXE_SUFFIX))
        });
        if !bin.is_file() {
            panic!(
                "the scopeflow binary is missing at {}: run `cargo build -p scopeflow-cli` first \
                 (scripts/test.sh does that), or set SCOPEFLOW_BIN",
                bin.display()
            );
        }
        bin
    })
}

/// The python interpreter with the shared tools' requirements.
pub fn python_bin() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let py = env_path("SCOPEFLOW_PYTHON").unwrap_or_else(|| {
            let home = env_path("HOME")
                .or_else(|| env_path("USERPROFILE"))
                .expect("HOME is not set: set SCOPEFLOW_PYTHON to the venv's python");
            let venv = home.join(".cache/scopeflow/venv");
            if cfg!(windows) {
                venv.join("Scripts").join("python.exe")
            } else {
                venv.join("bin").join("python")
            }
        });
        if !py.is_file() {
            panic!(
                "python with the shared tools' requirements is missing at {}: run \
                 `bash scripts/setup-python.sh` (scripts/test.sh does that), or set SCOPEFLOW_PYTHON",
                py.display()
            );
        }
        py
    })
}

/// The shared folder (`tools/`, `samples/real/`), `../shared` beside the repository by default.
pub fn shared_dir() -> &'static Path {
    static SHARED: OnceLock<PathBuf> = OnceLock::new();
    SHARED.get_or_init(|| {
        let dir = env_path("SCOPEFLOW_SHARED").unwrap_or_else(|| repo_root().join("../shared"));
        for needed in ["tools/make_samples.py", "tools/validate_omezarr.py", "samples/real"] {
            if !dir.join(needed).exists() {
                panic!(
                    "the shared tools and samples are missing: {} does not exist. The tests need \
                     the `shared` folder beside the repository (or SCOPEFLOW_SHARED pointing at it)",
                    dir.join(needed).display()
                );
            }
        }
        dir.canonicalize().unwrap_or(dir)
    })
}

pub fn tool(name: &str) -> PathBuf {
    shared_dir().join("tools").join(name)
}

pub fn real_samples_dir() -> PathBuf {
    shared_dir().join("samples/real")
}

/// The synthetic samples, generated once (per sample-script version) with a fixed seed.
///
/// Threads of this process wait on the `OnceLock`; other processes (a second `cargo test`)
/// wait on a lock file. The folder is generated under a temporary name and renamed once
/// complete, so a folder with the final name is always whole and later runs reuse it.
pub fn synthetic_samples_dir() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(generate_synthetic_samples) {
        Ok(dir) => dir,
        Err(e) => panic!("synthetic samples are not available: {e}"),
    }
}

fn generate_synthetic_samples() -> Result<PathBuf, String> {
    let files: Vec<String> = ALL_SAMPLES
        .iter()
        .filter(|s| s.origin == Origin::Synthetic)
        .map(|s| s.file.to_string())
        .collect();
    generate_samples("make_samples.py", "abcdfg", &files)
}

/// The samples of the other microscope formats (`make_format_samples.py`: CZI, Imaris, LIF,
/// PNG), generated once like [`synthetic_samples_dir`].
pub fn format_samples_dir() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let generate = || {
        let files = FORMAT_SAMPLES.map(String::from);
        generate_samples("make_format_samples.py", "pqrsuvw", &files)
    };
    match DIR.get_or_init(generate) {
        Ok(dir) => dir,
        Err(e) => panic!("format samples are not available: {e}"),
    }
}

/// What `make_format_samples.py --only pqrsuvw` writes, each with a `.truth.json`.
pub const FORMAT_SAMPLES: [&str; 7] = [
    "p_czi_zstd_czyx_u16.czi",
    "q_czi_raw_yx_u8.czi",
    "r_czi_2scenes_tyx_u16.czi",
    "s_ims_czyx_u16.ims",
    "u_png_yx_u16.png",
    "v_png_yxs_u8.png",
    "w_lif_2series.lif",
];

/// Runs a sample script of `shared/tools` once per script version into the sample cache,
/// under a lock (other test processes wait) and a temporary name renamed when complete.
fn generate_samples(script_name: &str, only: &str, files: &[String]) -> Result<PathBuf, String> {
    let script = tool(script_name);
    let script_hash = sha256_file(&script);
    let root = env_path("SCOPEFLOW_SAMPLE_CACHE")
        .unwrap_or_else(|| target_dir().join("scopeflow-samples"));
    let key = format!("{only}-seed-{SEED}-{}", &script_hash[..12]);
    let done = root.join(&key);
    let marker = done.join(".complete");
    if marker.is_file() {
        return Ok(done);
    }
    fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let lock_path = root.join(".lock");
    let lock = fs::File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if marker.is_file() {
        return Ok(done); // another process made them while we waited
    }
    let partial = root.join(format!("{key}.partial"));
    let _ = fs::remove_dir_all(&partial);
    let _ = fs::remove_dir_all(&done);
    fs::create_dir_all(&partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    eprintln!(
        "generating {script_name} samples into {} (once)",
        done.display()
    );
    let run = python(args![
        script,
        "--out",
        partial,
        "--only",
        only,
        "--seed",
        SEED.to_string()
    ]);
    if !run.status.success() {
        return Err(format!("{script_name} failed\n{run}"));
    }
    for file in files {
        for f in [file.clone(), format!("{file}.truth.json")] {
            if !partial.join(&f).is_file() {
                return Err(format!("{script_name} did not write {f}\n{run}"));
            }
        }
    }
    fs::write(partial.join(".complete"), format!("{key}\n{}", run.stdout))
        .map_err(|e| format!("cannot write the marker: {e}"))?;
    fs::rename(&partial, &done).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    Ok(done)
}

// ---------------------------------------------------------------------------------------------
// A directory per test
// ---------------------------------------------------------------------------------------------

/// An empty directory named after the test, under `<target dir>/scopeflow-tests/`. It is removed
/// when the test passes and kept (for a look) when it fails.
pub struct Dir {
    path: PathBuf,
}

impl Dir {
    pub fn new(test_name: &str) -> Dir {
        let name = test_name
            .strip_prefix("tests::")
            .unwrap_or(test_name)
            .replace("::", "__");
        let path = target_dir().join("scopeflow-tests").join(name);
        if path.exists() {
            fs::remove_dir_all(&path)
                .unwrap_or_else(|e| panic!("cannot clear {}: {e}", path.display()));
        }
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Dir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Creates (empty) and returns a sub-folder.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("cannot create {}: {e}", p.display()));
        p
    }

    /// Writes a file and returns its path.
    pub fn create(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// A finished command: what ran, how it ended, what it printed.
pub struct Run {
    pub cmd: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics (printing everything) unless the command exited 0.
    pub fn success(self) -> Run {
        if !self.status.success() {
            panic!("expected exit 0\n{self}");
        }
        self
    }

    /// Panics (printing everything) unless the command exited with `code`.
    pub fn exit(self, code: i32) -> Run {
        if self.code() != Some(code) {
            panic!("expected exit {code}\n{self}");
        }
        self
    }

    /// stdout parsed as exactly one JSON document (whitespace around it allowed, nothing else).
    pub fn stdout_json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not exactly one JSON document ({e})\n{self}");
        })
    }

    pub fn stdout_last_line(&self) -> Option<&str> {
        self.stdout
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 12_000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut head = MAX / 3;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - 2 * MAX / 3;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!(
        "{}\n[... {} bytes left out ...]\n{}",
        &s[..head],
        tail - head,
        &s[tail..]
    )
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.cmd)?;
        writeln!(
            f,
            "status:  {} (after {:.1}s)",
            self.status,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(f, "---- stdout ----\n{}", clip(&self.stdout))?;
        write!(
            f,
            "---- stderr ----\n{}\n----------------",
            clip(&self.stderr)
        )
    }
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,@".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn timeout() -> Duration {
    let secs = std::env::var("SCOPEFLOW_TEST_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    Duration::from_secs(secs)
}

/// Runs `program args`, stdin closed, output captured, killed after the time limit.
pub fn run<I, S>(program: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<OsString> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let cmd = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let start = Instant::now();
    // `batch` keeps a pointer per batch id under SCOPEFLOW_BATCH_HOME (default ~/.scopeflow):
    // the tests' pointers stay in the target folder, not in the user's home.
    let batch_home = std::env::var_os("SCOPEFLOW_BATCH_HOME").unwrap_or_else(|| {
        target_dir()
            .join("scopeflow-tests")
            .join("batch-home")
            .into()
    });
    let mut child = Command::new(program)
        .args(&args)
        .env("NO_COLOR", "1")
        .env("SCOPEFLOW_BATCH_HOME", batch_home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{cmd}`: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let limit = timeout();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let status = child.wait().expect("waiting for the killed child");
            let r = Run {
                cmd,
                status,
                stdout: out.join().unwrap_or_default(),
                stderr: err.join().unwrap_or_default(),
                elapsed: start.elapsed(),
            };
            panic!(
                "killed after {}s (SCOPEFLOW_TEST_TIMEOUT)\n{r}",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        cmd,
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// Runs the `scopeflow` binary under test.
pub fn scopeflow<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(scopeflow_bin(), args)
}

/// Runs the tools' python.
pub fn python<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(python_bin(), args)
}

/// Runs `validate_omezarr.py --zarr OUT --source SRC [--truth TRUTH]`: `Ok` if it exits 0 with
/// `validate: OK` as its last line, else `Err`, both with the run.
pub fn validate_run(zarr: &Path, source: &Path, truth: Option<&Path>) -> Result<Run, Run> {
    let mut a = args![
        tool("validate_omezarr.py"),
        "--zarr",
        zarr,
        "--source",
        source
    ];
    if let Some(t) = truth {
        a.extend(args!["--truth", t]);
    }
    let r = python(a);
    if r.stdout_last_line() == Some("validate: OK") && r.status.success() {
        Ok(r)
    } else {
        Err(r)
    }
}

/// `validate_omezarr.py` must end with `validate: OK`.
pub fn validate(zarr: &Path, source: &Path, truth: Option<&Path>) -> Run {
    validate_run(zarr, source, truth).unwrap_or_else(|r| {
        panic!("validate_omezarr.py did not print `validate: OK` as its last line\n{r}")
    })
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// Collects every mismatch of one test, then fails once with all of them and the command's output.
#[derive(Default)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn new() -> Problems {
        Problems::default()
    }

    pub fn push(&mut self, msg: impl Into<String>) {
        self.0.push(msg.into());
    }

    pub fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }

    /// Adds another list's problems, each prefixed with `prefix`.
    pub fn absorb(&mut self, prefix: &str, other: Problems) {
        self.0
            .extend(other.0.into_iter().map(|m| format!("{prefix}{m}")));
    }

    /// Panics listing the problems, followed by `context` (usually the command's [`Run`]).
    pub fn finish(self, context: impl fmt::Display) {
        if !self.0.is_empty() {
            let list: Vec<String> = self.0.iter().map(|p| format!("  - {p}")).collect();
            panic!(
                "{} problem(s):\n{}\n{context}",
                self.0.len(),
                list.join("\n")
            );
        }
    }
}

/// `got` equals `want` to `rel` relative tolerance (exactly, where `want` is 0).
pub fn close(got: f64, want: f64, rel: f64) -> bool {
    if want == 0.0 {
        got.abs() <= 1e-12
    } else {
        (got - want).abs() <= rel * want.abs()
    }
}

/// Compares a number-or-null against the truth's number-or-null to `rel`.
pub fn check_number(p: &mut Problems, what: &str, got: &Value, want: &Value, rel: f64) {
    match (got, want) {
        (Value::Null, Value::Null) => {}
        (g, Value::Null) => p.push(format!("{what}: got {g}, expected null")),
        (g, w) => match (g.as_f64(), w.as_f64()) {
            (Some(gv), Some(wv)) => p.check(close(gv, wv, rel), || {
                format!("{what}: got {gv}, expected {wv} (relative tolerance {rel})")
            }),
            _ => p.push(format!("{what}: got {g}, expected {w}")),
        },
    }
}

pub fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

pub fn sha256_file(path: &Path) -> String {
    let mut f =
        fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

/// The names in a folder, sorted (to compare a folder before and after a command).
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// `true` if anything at all (file, folder, dangling link) exists at `path`.
pub fn exists_at_all(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
