//! Command-line flags exactly as `shared/CLI.md` fixes them (names are a contract: add, never
//! rename).

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use scopeflow_core::{Codec, FileState, NgffVersion};

#[derive(Parser, Debug)]
#[command(
    name = "scopeflow",
    version,
    about = "Microscopy data pipeline: inspect, QC and convert images to OME-Zarr"
)]
pub(crate) struct Cli {
    /// Worker threads for conversion and QC (default: one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// More log output on stderr (-v info, -vv debug); SCOPEFLOW_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Print what a file holds: format, axes, shape, type, physical sizes, channels.
    Inspect {
        input: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Per-channel QC: saturation fraction and SNR (Otsu split).
    Qc {
        input: PathBuf,
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Convert to an OME-Zarr folder, written atomically.
    Convert(ConvertArgs),
    /// Pipeline files: `scopeflow pipeline check FILE.yaml`.
    Pipeline {
        #[command(subcommand)]
        command: PipelineCommand,
    },
    /// Watch the pipeline's folders and deliver verified copies (until SIGTERM/Ctrl-C).
    Agent {
        #[arg(long)]
        config: PathBuf,
        /// Scan, process every stable file, wait for them, exit (0: all verified, 1: some failed).
        #[arg(long)]
        once: bool,
    },
    /// Run the agent as a Windows service (install, uninstall, run).
    #[cfg(windows)]
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Convert a backlog as one Slurm job array (or locally): submit, status, resume.
    Batch {
        #[command(subcommand)]
        command: crate::commands::batch::BatchCommand,
    },
    /// Every file the pipeline's journal knows: state, sha256, error, copies.
    Status(StatusArgs),
    /// Re-queue quarantined (and failed) files after a fix: attempts start again from zero and
    /// the agent works on them at its next pass. PATH: as `status` shows it (relative to its
    /// watched folder) or a path to the raw file. Exit 0: all re-queued; 1: a PATH is not
    /// quarantined or failed (the others are re-queued); 2: bad command line or pipeline.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["paths", "all"])))]
    Retry {
        #[arg(long)]
        config: PathBuf,
        /// Files to re-queue.
        paths: Vec<PathBuf>,
        /// Every quarantined or failed file.
        #[arg(long, conflicts_with = "paths")]
        all: bool,
    },
    /// Export a selection of files for a lab notebook or a repository.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// The retention robot: purge local raw files whose every required copy verifies now.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// The central pipeline server (API, dashboard, metrics), or its token administration.
    #[command(args_conflicts_with_subcommands = true)]
    Server {
        #[command(subcommand)]
        command: Option<ServerCommand>,
        /// `sqlite://FILE` or `postgres://…`; default: SQLite file `scopeflow-server.db` in the
        /// working folder.
        #[arg(long)]
        db: Option<String>,
        /// Address to listen on; default 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
    },
}

/// `status` reads the journal row by row; these choose which rows.
#[derive(clap::Args, Debug)]
pub(crate) struct StatusArgs {
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Only files in these states (repeat or separate with commas: `--state failed,quarantined`).
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(FileState::ALL.map(|s| s.as_str())))]
    pub state: Vec<String>,
    /// Only files changed since this time: RFC 3339 (`2026-12-01T00:00:00Z`) or a duration
    /// back from now (`30m`, `12h`, `7d`).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many files (after --offset).
    #[arg(long)]
    pub limit: Option<u64>,
    /// Skip this many files first (in watch folder, path, version order).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ExportCommand {
    /// An `.eln` (RO-Crate in a zip, the ELN consortium's format eLabFTW imports) of the
    /// files' verified copies at a local destination.
    Eln {
        #[arg(long)]
        config: PathBuf,
        /// Files as `status` shows them (or their raw paths).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The `.eln` file to write.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum RetentionCommand {
    /// Dry run: what would be purged, and why every other file is kept. By default from the
    /// journal only (fast; nothing contacted or hashed); `--verify` checks as `run` does.
    Plan {
        #[arg(long)]
        config: PathBuf,
        /// The clock to decide with (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        json: bool,
        /// Re-verify every copy at its destination and re-hash every local file, as `run`
        /// does, so the plan shows exactly what `run` would do (nothing is purged or recorded).
        #[arg(long)]
        verify: bool,
    },
    /// Purge (or move to the trash) what is safe to purge now; exit 0 whatever it kept.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// The clock to decide with (RFC 3339); default: now.
        #[arg(long)]
        now: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ServerCommand {
    /// Agent and viewer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// Creates a token and prints it alone on the last line of stdout (stored hashed).
    Create {
        /// The agent (pipeline `name`) this token writes for.
        #[arg(long, required_unless_present = "viewer")]
        agent: Option<String>,
        /// A read-only token for dashboards and scripts instead of an agent token.
        #[arg(long)]
        viewer: bool,
        #[arg(long)]
        db: Option<String>,
    },
}

/// The agent as a Windows service.
#[cfg(windows)]
#[derive(Subcommand, Debug)]
pub(crate) enum ServiceCommand {
    /// Register `scopeflow service run` with the Service Control Manager (start at boot).
    Install {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value = "scopeflow-agent")]
        name: String,
    },
    /// Stop and remove the service.
    Uninstall {
        #[arg(long, default_value = "scopeflow-agent")]
        name: String,
    },
    /// What the Service Control Manager runs (not for interactive use).
    Run {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value = "scopeflow-agent")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum PipelineCommand {
    /// Validate a pipeline file; every problem as FILE:LINE:COL: message (exit 2).
    Check { file: PathBuf },
}

#[derive(clap::Args, Debug)]
pub(crate) struct ConvertArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    #[command(flatten)]
    pub options: ConvertFlags,
    /// Convert only series N (0-based) of a file holding several, as a plain image at OUTPUT;
    /// without it every series is converted (a bioformats2raw-layout container when several).
    #[arg(long, value_name = "N")]
    pub series: Option<usize>,
    /// Replace an existing OUTPUT.
    #[arg(long)]
    pub overwrite: bool,
    /// No progress bar, no summary line.
    #[arg(long)]
    pub quiet: bool,
    /// Print the conversion report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The conversion options, shared by `convert` and `batch submit`.
#[derive(clap::Args, Debug)]
pub(crate) struct ConvertFlags {
    /// NGFF version: 0.5 (Zarr v3) or 0.4 (Zarr v2).
    #[arg(long, default_value = "0.5", value_parser = named::<NgffVersion>(&["0.5", "0.4"]))]
    pub ngff: NgffVersion,
    /// Chunk height and width in pixels (even).
    #[arg(long, default_value_t = scopeflow_ngff_default_chunk())]
    pub chunk_yx: usize,
    /// Shard height and width (a multiple of --chunk-yx; NGFF 0.5 only).
    #[arg(long)]
    pub shard_yx: Option<usize>,
    #[arg(long, default_value = "zstd", value_parser = named::<Codec>(&["zstd", "blosc", "none"]))]
    pub codec: Codec,
    /// Compression level (zstd default 1, blosc default 5).
    #[arg(long, allow_negative_numbers = true)]
    pub level: Option<i32>,
    /// Pyramid levels: a number, or `auto` (halve until one chunk holds a plane).
    #[arg(long, default_value = "auto", value_parser = parse_levels)]
    pub levels: scopeflow_ngff::Levels,
}

impl ConvertFlags {
    pub fn options(&self, overwrite: bool) -> scopeflow_ngff::ConvertOptions {
        scopeflow_ngff::ConvertOptions {
            ngff: self.ngff,
            chunk_yx: self.chunk_yx,
            shard_yx: self.shard_yx,
            codec: self.codec,
            level: self.level,
            levels: self.levels,
            overwrite,
            record_digests: false,
            early_writeback: false,
        }
    }
}

fn scopeflow_ngff_default_chunk() -> usize {
    scopeflow_core::DEFAULT_CHUNK_YX
}

/// One of `names`, as the core type that parses it: clap lists the names in `--help` and in
/// its error, and the type's own parser is the only place that maps text to a value.
fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = String> + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
}

fn parse_levels(s: &str) -> Result<scopeflow_ngff::Levels, String> {
    if s == "auto" {
        return Ok(scopeflow_ngff::Levels::Auto);
    }
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(scopeflow_ngff::Levels::Count(n)),
        _ => Err(format!("expected a number ≥ 1 or `auto`, not `{s}`")),
    }
}
