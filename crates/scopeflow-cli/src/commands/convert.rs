use std::time::Instant;

use scopeflow_ngff::ConvertOptions;
use serde_json::json;

use super::{open, print_json};
use crate::flags::ConvertArgs;
use crate::{Failure, progress};

pub(crate) fn run(args: &ConvertArgs) -> Result<(), Failure> {
    let opts = ConvertOptions {
        ngff: args.ngff,
        chunk_yx: args.chunk_yx,
        shard_yx: args.shard_yx,
        codec: args.codec,
        level: args.level,
        levels: args.levels,
        overwrite: args.overwrite,
    };
    opts.validate()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let src = open(&args.input)?;
    let raw = src.meta().raw_bytes();
    let bar = progress::bar(raw, args.quiet, "convert");
    let t0 = Instant::now();
    let report = scopeflow_ngff::convert(src.as_ref(), &args.output, &opts, &|n| bar.inc(n))
        .map_err(|e| {
            if e.is_usage() {
                Failure::usage(e)
            } else {
                Failure::work(e)
            }
        })?;
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    if args.json {
        return print_json(&json!({
            "input": args.input,
            "output": report.output,
            "sha256": report.sha256,
            "source_size": report.source_size,
            "axes": report.axes,
            "levels": report.level_shapes,
            "seconds": secs,
            "qc": scopeflow_core::qc_document(&report.qc),
        }));
    }
    if !args.quiet {
        eprintln!(
            "scopeflow: {} -> {} ({} levels, {:.1} MB in {:.2} s, {:.0} MB/s)",
            args.input.display(),
            args.output.display(),
            report.level_shapes.len(),
            raw as f64 / 1e6,
            secs,
            raw as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(())
}
