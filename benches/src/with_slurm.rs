//! `with-slurm COMMAND ARGS…`: runs COMMAND against a throwaway one-node Slurm cluster (the
//! tests' `scopeflow_testkit::Slurm`, with `SLURM_CONF` set), then stops the cluster. Lets the
//! benchmark scripts measure `--engine slurm` on a machine without a cluster.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: with-slurm COMMAND [ARGS…]");
        return ExitCode::from(2);
    };
    let Some(slurm) = scopeflow_testkit::Slurm::start() else {
        return ExitCode::from(2);
    };
    let (k, v) = slurm.env();
    let status = Command::new(program).args(rest).env(k, v).status();
    drop(slurm);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("with-slurm: cannot run {program}: {e}");
            ExitCode::from(2)
        }
    }
}
