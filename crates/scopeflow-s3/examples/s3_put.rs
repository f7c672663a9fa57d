//! One timed put (and record) of a file or folder to an S3 destination, for
//! `benches/transfer_s3.sh`. Credentials come from the environment variables the flags name,
//! as in a pipeline file.
//!
//! ```text
//! cargo run --release -p scopeflow-s3 --example s3_put -- --endpoint http://127.0.0.1:9000 \
//!     --bucket imaging --prefix bench --access-key-env AK --secret-key-env SK \
//!     [--read-back true|false] [--parallel N] SOURCE REL
//! ```
//! Prints one JSON line: `{"files", "bytes", "seconds", "read_back", "parallel", "stats"}`.

use std::path::PathBuf;
use std::time::Instant;

use scopeflow_core::S3Settings;
use scopeflow_s3::{S3Config, S3Destination};
use scopeflow_transfer::{Destination, RelPath};

fn main() {
    if let Err(e) = run() {
        eprintln!("s3_put: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut flags = std::collections::HashMap::new();
    let mut positional = Vec::new();
    while let Some(a) = args.next() {
        if let Some(name) = a.strip_prefix("--") {
            let v = args.next().ok_or(format!("--{name} needs a value"))?;
            flags.insert(name.to_owned(), v);
        } else {
            positional.push(a);
        }
    }
    let flag = |n: &str| flags.get(n).cloned().ok_or(format!("--{n} is required"));
    let env = |n: &str| -> Result<String, String> {
        let var = flag(n)?;
        std::env::var(&var).map_err(|_| format!("environment variable {var} is not set"))
    };
    let [source, rel] = positional.as_slice() else {
        return Err("usage: s3_put [flags] SOURCE REL".into());
    };
    let mut settings = S3Settings::new(
        &flag("bucket")?,
        &flag("access-key-env")?,
        &flag("secret-key-env")?,
    );
    settings.endpoint = Some(flag("endpoint")?);
    settings.prefix = flags.get("prefix").cloned().unwrap_or_default();
    settings.allow_http = true;
    settings.path_style = Some(true);
    settings.read_back = flags.get("read-back").is_none_or(|v| v == "true");
    let mut config = S3Config::new(
        "bench",
        settings,
        &env("access-key-env")?,
        &env("secret-key-env")?,
    );
    if let Some(p) = flags.get("parallel") {
        config.parallel = p.parse().map_err(|e| format!("--parallel: {e}"))?;
    }
    let (read_back, parallel) = (config.settings.read_back, config.parallel);
    let dest = S3Destination::new(config).map_err(|e| e.to_string())?;
    let rel = RelPath::new(rel).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let receipt = runtime
        .block_on(async {
            let r = dest.put(&PathBuf::from(source), &rel).await?;
            let entries: Vec<_> = r.files.iter().map(|(p, d, _)| (p.clone(), *d)).collect();
            dest.record(&entries).await?;
            Ok::<_, scopeflow_transfer::TransferError>(r)
        })
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes: u64 = receipt.files.iter().map(|(_, _, n)| n).sum();
    println!(
        "{{\"files\": {}, \"bytes\": {bytes}, \"seconds\": {seconds:.3}, \"read_back\": {read_back}, \"parallel\": {parallel}, \"stats\": \"{:?}\"}}",
        receipt.files.len(),
        dest.stats()
    );
    Ok(())
}
