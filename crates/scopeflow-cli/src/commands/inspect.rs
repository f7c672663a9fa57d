use std::path::Path;

use scopeflow_core::axes_string;

use super::{open, print_json};
use crate::Failure;

pub(crate) fn run(input: &Path, json: bool) -> Result<(), Failure> {
    let src = open(input)?;
    let meta = src.meta();
    if json {
        return print_json(&meta.to_inspect_json());
    }
    println!("file:        {}", input.display());
    println!("format:      {}", meta.format);
    println!("axes:        {}", axes_string(&meta.axes));
    println!("shape:       {:?}", meta.shape);
    println!("dtype:       {}", meta.dtype);
    if let (Some(p), Some(u)) = (meta.physical_sizes, &meta.physical_unit) {
        let f = |v: Option<f64>| v.map_or("-".into(), |x| format!("{x}"));
        println!("pixel size:  x {} y {} z {} {u}", f(p.x), f(p.y), f(p.z));
    }
    if let Some(names) = &meta.channel_names {
        println!("channels:    {}", names.join(", "));
    }
    if let Some(at) = &meta.acquired_at {
        println!("acquired:    {at}");
    }
    if meta.series.len() > 1 {
        println!(
            "series:      {} (`convert` writes them all; `--series N` only one)",
            meta.series.len()
        );
        for s in &meta.series {
            println!(
                "  {} {} {:?} {} {}",
                s.index,
                s.axes,
                s.shape,
                s.dtype,
                s.name.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}
