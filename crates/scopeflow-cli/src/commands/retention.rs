//! `scopeflow retention plan|run`: the robot is the `scopeflow-retention` crate; this maps its
//! outcome to the CLI contract (exit 0 when it ran, whatever it kept; 2 for a bad pipeline,
//! a bad `--now` or a destination kind this build lacks).

use std::path::Path;

use scopeflow_retention::RetentionError;

use std::io::Write;

use super::{load_pipeline, runtime};
use crate::Failure;

pub(crate) fn run(
    config: &Path,
    now: Option<&str>,
    json: bool,
    purge: bool,
    verify: bool,
) -> Result<(), Failure> {
    let now =
        scopeflow_retention::parse_now(now).map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let pipeline = load_pipeline(config)?;
    let outcome = runtime()?.block_on(async {
        if purge {
            scopeflow_retention::run(&pipeline, now).await
        } else if verify {
            scopeflow_retention::plan_verified(&pipeline, now).await
        } else {
            scopeflow_retention::plan(&pipeline, now).await
        }
    });
    let report = outcome.map_err(|e| match e {
        RetentionError::Config(_) => Failure::usage(anyhow::anyhow!("{}: {e}", config.display())),
        e => Failure::work(anyhow::anyhow!("{}: {e}", config.display())),
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if json {
        report.write_json(&mut out)
    } else {
        out.write_all(
            report
                .to_text(if purge { "purged" } else { "purge" })
                .as_bytes(),
        )
    };
    written.and_then(|()| out.flush()).map_err(Failure::work)
}
