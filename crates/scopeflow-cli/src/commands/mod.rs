mod agent;
pub(crate) mod batch;
mod convert;
mod export;
mod inspect;
mod pipeline;
mod qc;
mod retention;
mod retry;
mod server;
mod status;
mod throughput;

use std::path::Path;

use scopeflow_formats::{FormatError, ImageSource};

use crate::Failure;
use crate::flags::{Command, ExportCommand, PipelineCommand, RetentionCommand};

pub(crate) fn run(cmd: Command) -> Result<(), Failure> {
    match cmd {
        Command::Inspect { input, json } => inspect::run(&input, json),
        Command::Qc { input, json, quiet } => qc::run(&input, json, quiet),
        Command::Convert(args) => convert::run(&args),
        Command::Pipeline {
            command: PipelineCommand::Check { file },
        } => pipeline::check(&file),
        Command::Agent { config, once } => agent::run(&config, once),
        Command::Batch { command } => batch::run(command),
        Command::Status(args) => status::run(&args),
        Command::Retry { config, paths, all } => retry::run(&config, &paths, all),
        Command::Export {
            command:
                ExportCommand::Eln {
                    config,
                    paths,
                    output,
                },
        } => export::eln(&config, &paths, &output),
        Command::Retention { command } => match command {
            RetentionCommand::Plan {
                config,
                now,
                json,
                verify,
            } => retention::run(&config, now.as_deref(), json, false, verify),
            RetentionCommand::Run { config, now, json } => {
                retention::run(&config, now.as_deref(), json, true, false)
            }
        },
        Command::Server {
            command,
            db,
            listen,
        } => server::run(command, db, listen),
        #[cfg(windows)]
        Command::Service { command } => match command {
            crate::flags::ServiceCommand::Install { config, name } => {
                crate::service::install(&config, &name)
            }
            crate::flags::ServiceCommand::Uninstall { name } => crate::service::uninstall(&name),
            crate::flags::ServiceCommand::Run { config, name } => {
                crate::service::run(&config, &name)
            }
        },
    }
}

pub(crate) fn open(path: &Path) -> Result<Box<dyn ImageSource>, Failure> {
    scopeflow_formats::open(path).map_err(|e| match e {
        FormatError::Usage { .. } => Failure::usage(e),
        e => Failure::work(e),
    })
}

/// Writes one JSON document and a newline on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .map_err(Failure::work)
}

pub(crate) fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// Loads and validates a pipeline file; problems are a usage failure (exit 2).
pub(crate) fn load_pipeline(path: &Path) -> Result<scopeflow_pipeline::Pipeline, Failure> {
    scopeflow_pipeline::load(path).map_err(|errors| {
        print!("{errors}");
        Failure::usage(anyhow::anyhow!(
            "{}: invalid pipeline ({} problems)",
            path.display(),
            errors.errors.len()
        ))
    })
}

/// A runtime for the async commands (agent, status).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::work)
}
