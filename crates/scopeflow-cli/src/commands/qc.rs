use std::path::Path;

use scopeflow_ngff::ConvertError;

use super::{fmt_opt, open, print_json};
use crate::{Failure, progress};

pub(crate) fn run(input: &Path, json: bool, quiet: bool) -> Result<(), Failure> {
    let raw = scopeflow_ngff::planned_bytes(open(input)?.meta(), scopeflow_ngff::SeriesChoice::All);
    let bar = progress::bar(raw, quiet, "qc");
    let series = scopeflow_ngff::measure_qc_file(input, &|n| bar.inc(n)).map_err(|e| match e {
        ConvertError::Source(scopeflow_formats::FormatError::Usage { .. }) => Failure::usage(e),
        e => Failure::work(e),
    })?;
    bar.finish_and_clear();
    if json {
        return print_json(&scopeflow_ngff::qc_document(&series));
    }
    let several = series.len() > 1;
    for s in &series {
        if several {
            println!(
                "series {}{}",
                s.index,
                s.name
                    .as_deref()
                    .map_or(String::new(), |n| format!(" ({n})"))
            );
        }
        println!(
            "{:>3} {:<12} {:>10} {:>12} {:>10} {:>10} {:>10}",
            "ch", "name", "snr", "saturation", "otsu", "min", "max"
        );
        for c in &s.channels {
            println!(
                "{:>3} {:<12} {:>10} {:>12} {:>10} {:>10} {:>10}",
                c.index,
                c.name.as_deref().unwrap_or("-"),
                fmt_opt(c.snr, 3),
                c.saturation_fraction
                    .map_or("-".into(), |s| format!("{s:.3e}")),
                fmt_opt(c.otsu_threshold, 1),
                fmt_opt(c.min, 1),
                fmt_opt(c.max, 1),
            );
        }
    }
    Ok(())
}
