//! Builds the world of `benches/retention_plan.sh`: N raw files on disk (1 KiB each, 1,000
//! per folder) under `DIR/acq`, a pipeline `DIR/pipeline.yaml`, and a journal in which every
//! file is `verified` at one local destination and was ingested a year before the bench's
//! `--now`, so `retention plan` runs every check (journal, age, copies, size/mtime stat).
//!
//!     cargo run --release -p scopeflow-retention --example bench_fill -- DIR N
//!
//! Rows go in through SQL in one transaction (the journal API commits, and fsyncs, once per
//! state change: 600,000 fsyncs for 100,000 files); the schema and its triggers are the
//! journal's own, since the journal is opened (and migrated) first.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sqlx::Connection;

fn usage() -> ! {
    eprintln!("usage: bench_fill DIR N");
    std::process::exit(2);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| usage()));
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| usage());
    let acq = dir.join("acq");
    std::fs::create_dir_all(&acq)?;
    std::fs::create_dir_all(dir.join("nas"))?;
    std::fs::write(
        dir.join("pipeline.yaml"),
        "version: 1\nname: bench\nwatch:\n  - path: acq\nstate: state/state.db\n\
         destinations:\n  - name: nas\n    kind: local\n    path: nas\n",
    )?;
    let db = dir.join("state/state.db");
    scopeflow_journal::Journal::open(&db).await?.close().await;
    // The journal's watch key is the folder as the pipeline resolves it.
    let pipeline = scopeflow_pipeline::load(&dir.join("pipeline.yaml"))
        .map_err(|e| format!("pipeline.yaml: {} problems", e.errors.len()))?;
    let watch = pipeline.watch[0].path.clone();
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let mut tx = conn.begin().await?;
    let at = "2029-01-01T00:00:00.000Z";
    for i in 0..n {
        let rel = format!("run{:03}/img{i:06}.tif", i / 1000);
        let (size, mtime) = write(&acq, &rel, i)?;
        let sha = format!("{:064x}", i + 1);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO files (watch, rel, version, size, mtime_ns, sha256, state, discovered_at, \
             stable_at, processed_at, transferred_at, verified_at, updated_at) \
             VALUES (?, ?, 1, ?, ?, ?, 'verified', ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(watch.to_string_lossy().as_ref())
        .bind(&rel)
        .bind(size)
        .bind(mtime)
        .bind(&sha)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO copies (file_id, destination, state, sha256, transferred_at, verified_at, \
             updated_at, path) VALUES (?, 'nas', 'verified', ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&sha)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(format!("raw/{rel}"))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    println!(
        "{n} files under {} and journal {}",
        acq.display(),
        db.display()
    );
    Ok(())
}

/// A 1 KiB file; returns its size and mtime (ns) as the agent records them.
fn write(acq: &Path, rel: &str, i: usize) -> std::io::Result<(i64, i64)> {
    let p = acq.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&p, vec![(i % 251) as u8; 1024])?;
    let m = std::fs::metadata(&p)?;
    let mtime = m
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Ok((1024, mtime))
}
