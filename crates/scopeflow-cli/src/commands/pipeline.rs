use std::path::Path;

use scopeflow_pipeline::{DestinationKind, Pipeline};

use super::load_pipeline;
use crate::Failure;

pub(crate) fn check(file: &Path) -> Result<(), Failure> {
    let p = load_pipeline(file)?;
    for w in warnings(&p) {
        eprintln!("{}: warning: {w}", file.display());
    }
    println!("{}: ok", file.display());
    Ok(())
}

/// Valid settings that will probably not work: they do not fail the check, but say why.
fn warnings(p: &Pipeline) -> Vec<String> {
    let mut out = Vec::new();
    for d in &p.destinations {
        if let DestinationKind::S3(s) = &d.kind
            && s.path_style == Some(false)
            && let Some(endpoint) = s.endpoint.as_deref()
            && scopeflow_core::host_needs_path_style(endpoint)
        {
            out.push(format!(
                "destination `{}`: path_style: false forces virtual-hosted requests \
                 (BUCKET.HOST), which endpoint {endpoint} cannot serve (an IP address or \
                 localhost); remove path_style to choose path style automatically",
                d.name
            ));
        }
    }
    out
}
