use std::path::Path;

use super::{fmt_opt, open, print_json};
use crate::{Failure, progress};

pub(crate) fn run(input: &Path, json: bool, quiet: bool) -> Result<(), Failure> {
    let src = open(input)?;
    let bar = progress::bar(src.meta().raw_bytes(), quiet, "qc");
    let qc = scopeflow_ngff::measure_qc(src.as_ref(), &|n| bar.inc(n)).map_err(Failure::work)?;
    bar.finish_and_clear();
    if json {
        return print_json(&scopeflow_core::qc_document(&qc));
    }
    println!(
        "{:>3} {:<12} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "ch", "name", "snr", "saturation", "otsu", "min", "max"
    );
    for c in &qc {
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
    Ok(())
}
