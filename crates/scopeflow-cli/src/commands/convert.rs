use std::path::{Path, PathBuf};
use std::time::Instant;

use scopeflow_ngff::{ConvertError, SeriesChoice};
use serde_json::json;

use super::{open, print_json};
use crate::flags::ConvertArgs;
use crate::{Failure, progress};

pub(crate) fn run(args: &ConvertArgs) -> Result<(), Failure> {
    let opts = args.options.options(args.overwrite);
    opts.validate()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let thumbnail = thumbnail_path(&args.output);
    if thumbnail.exists() && !args.overwrite {
        return Err(Failure::usage(anyhow::anyhow!(
            "{}: the thumbnail of {} would replace it (use --overwrite)",
            thumbnail.display(),
            args.output.display()
        )));
    }
    let choice = args.series.map_or(SeriesChoice::All, SeriesChoice::One);
    // Opening the first series sizes the progress bar and reports a bad file before any write.
    let raw = scopeflow_ngff::planned_bytes(open(&args.input)?.meta(), choice);
    let bar = progress::bar(raw, args.quiet, "convert");
    let t0 = Instant::now();
    let report = scopeflow_ngff::convert_file(&args.input, &args.output, &opts, choice, &|n| {
        bar.inc(n);
    })
    .map_err(|e| {
        if e.is_usage()
            || matches!(
                e,
                ConvertError::Source(scopeflow_formats::FormatError::Usage { .. })
            )
        {
            Failure::usage(e)
        } else {
            Failure::work(e)
        }
    })?;
    bar.finish_and_clear();
    let thumbnail = match report.thumbnail() {
        Some(t) => {
            t.write_png(&thumbnail).map_err(Failure::work)?;
            Some(thumbnail)
        }
        None => None,
    };
    let secs = t0.elapsed().as_secs_f64();
    if args.json {
        // The top-level keys describe the first converted series, as for a one-series file.
        let first = report.series.first();
        let series: Vec<_> = report
            .series
            .iter()
            .map(|s| {
                json!({
                    "index": s.qc.index,
                    "name": s.qc.name,
                    "path": s.path,
                    "axes": s.axes,
                    "levels": s.level_shapes,
                    "qc": scopeflow_core::qc_document(&s.qc.channels),
                })
            })
            .collect();
        return print_json(&json!({
            "input": args.input,
            "output": report.output,
            "sha256": report.sha256,
            "source_size": report.source_size,
            "axes": first.map(|s| s.axes.clone()),
            "levels": first.map(|s| s.level_shapes.clone()),
            "seconds": secs,
            "qc": report.qc_document(),
            "layout": if report.container { "bioformats2raw" } else { "image" },
            "series": series,
            "thumbnail": thumbnail,
        }));
    }
    if !args.quiet {
        eprintln!(
            "scopeflow: {} -> {} ({} series, {} levels, {:.1} MB in {:.2} s, {:.0} MB/s)",
            args.input.display(),
            args.output.display(),
            report.series.len(),
            report.series.first().map_or(0, |s| s.level_shapes.len()),
            raw as f64 / 1e6,
            secs,
            raw as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(())
}

/// `DIR/NAME.png` beside `DIR/NAME.ome.zarr` (or `NAME.zarr`, or any OUTPUT name + `.png`): the
/// thumbnail the agent delivers as `qc/STEM.png`.
fn thumbnail_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = [".ome.zarr", ".zarr"]
        .iter()
        .find(|ext| lower.ends_with(*ext) && lower.len() > ext.len())
        .map_or(name.as_str(), |ext| &name[..name.len() - ext.len()]);
    output.with_file_name(format!("{stem}.png"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnail_sits_beside_the_output() {
        let p = |s: &str| thumbnail_path(Path::new(s));
        assert_eq!(p("out/a.ome.zarr"), Path::new("out/a.png"));
        assert_eq!(p("out/a.OME.ZARR"), Path::new("out/a.png"));
        assert_eq!(p("b.zarr"), Path::new("b.png"));
        assert_eq!(p("c"), Path::new("c.png"));
        assert_eq!(p(".zarr"), Path::new(".zarr.png"));
    }
}
