//! The `scopeflow` command: parses arguments, sets up logs, threads and progress, calls the
//! libraries, and maps outcomes to the exit codes of the CLI contract (0 ok, 1 the work
//! failed, 2 bad usage or configuration). No pipeline logic lives here.

// Only the library proper: each test target sees every dependency of the package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod commands;
mod flags;
mod malloc;
mod progress;
#[cfg(windows)]
mod service;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// An error with the exit code it maps to.
pub(crate) struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn work(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 1,
            error: error.into(),
        }
    }

    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 2,
            error: error.into(),
        }
    }
}

pub fn main() -> ExitCode {
    malloc::keep_large_buffers();
    let args = flags::Cli::parse();
    // A service has no console: `service run` logs to a file beside the journal instead.
    #[cfg(windows)]
    let logs_to_file = matches!(
        &args.command,
        flags::Command::Service {
            command: flags::ServiceCommand::Run { .. }
        }
    );
    #[cfg(not(windows))]
    let logs_to_file = false;
    if !logs_to_file {
        init_logging(args.verbose);
    }
    if let Some(n) = args.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
    {
        eprintln!("scopeflow: --threads {n}: {e}");
        return ExitCode::from(2);
    }
    match commands::run(args.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // A closed stdout (`scopeflow inspect x --json | head`) is not a failure.
            if f.error.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "scopeflow: error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        EnvFilter::try_from_env("SCOPEFLOW_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
