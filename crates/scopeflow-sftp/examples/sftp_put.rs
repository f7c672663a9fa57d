//! One put (then one verify) to an SFTP server, timed: what `benches/transfer_sftp.sh` runs.
//!
//!   sftp_put HOST PORT USER KEY KNOWN_HOSTS ROOT SOURCE REL [PARALLEL] [remote]
//!
//! Prints one line: `put_s=… verify_s=… bytes=… files=… MBps=…` (MB = 10^6 bytes, put time).

use std::path::PathBuf;
use std::time::Instant;

use scopeflow_sftp::{SftpConfig, SftpDestination};
use scopeflow_transfer::{Destination, RelPath};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 8 {
        return Err(
            "usage: sftp_put HOST PORT USER KEY KNOWN_HOSTS ROOT SOURCE REL [PARALLEL] [remote]"
                .into(),
        );
    }
    let dest = SftpDestination::new(SftpConfig {
        name: "bench".into(),
        host: args[0].clone(),
        port: args[1].parse()?,
        user: args[2].clone(),
        root: args[5].clone(),
        identity: Some(PathBuf::from(&args[3])),
        password: None,
        known_hosts: PathBuf::from(&args[4]),
        parallel: args.get(8).map_or(Ok(4), |p| p.parse())?,
        remote_sha256: args.get(9).is_some_and(|m| m == "remote"),
    });
    let rel = RelPath::new(&args[7])?;
    let t = Instant::now();
    let receipt = dest.put(&PathBuf::from(&args[6]), &rel).await?;
    let put_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    dest.verify(&rel, &receipt.files).await?;
    let verify_s = t.elapsed().as_secs_f64();
    let bytes: u64 = receipt.files.iter().map(|(_, _, n)| n).sum();
    println!(
        "put_s={put_s:.2} verify_s={verify_s:.2} bytes={bytes} files={} MBps={:.1}",
        receipt.files.len(),
        bytes as f64 / put_s / 1e6
    );
    Ok(())
}
