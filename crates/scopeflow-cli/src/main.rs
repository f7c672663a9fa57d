use std::process::ExitCode;

fn main() -> ExitCode {
    scopeflow_cli::main()
}
