//! Builds the journal of `benches/status_scale.sh`: N file rows as a busy acquisition PC has
//! them, each with the QC document the agent stores (~1.5 KiB of JSON, as for a 2-channel
//! OME-TIFF) and two copies; 1% failed with an error, 0.5% quarantined, the rest verified.
//!
//!     cargo run --release -p scopeflow-journal --example status_fill -- DIR N
//!
//! Writes `DIR/pipeline.yaml` and its journal `DIR/state/state.db`. Rows go in through SQL in
//! one transaction (the journal API fsyncs once per state change: 600,000 fsyncs for 100,000
//! files); the schema and its triggers are the journal's own, since it is opened first.

use std::path::PathBuf;

use sqlx::Connection;

fn usage() -> ! {
    eprintln!("usage: status_fill DIR N");
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
    std::fs::create_dir_all(dir.join("acq"))?;
    std::fs::create_dir_all(dir.join("nas"))?;
    std::fs::create_dir_all(dir.join("nas2"))?;
    std::fs::write(
        dir.join("pipeline.yaml"),
        "version: 1\nname: bench\nwatch:\n  - path: acq\nstate: state/state.db\n\
         destinations:\n  - name: nas\n    kind: local\n    path: nas\n  - name: nas2\n    kind: local\n    path: nas2\n",
    )?;
    let db = dir.join("state/state.db");
    scopeflow_journal::Journal::open(&db).await?.close().await;
    let watch = std::fs::canonicalize(dir.join("acq"))?;
    let url = format!("sqlite://{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    let mut tx = conn.begin().await?;
    let at = "2026-12-01T08:00:00.000Z";
    for i in 0..n {
        let rel = format!("user{:02}/run{:04}/img{i:06}.ome.tif", i % 37, i / 500);
        let sha = format!("{:064x}", i + 1);
        let (state, error) = match i % 200 {
            0 | 1 => (
                "failed",
                Some(format!(
                    "{rel}: corrupt or truncated file: strip {i} runs past the end"
                )),
            ),
            2 => (
                "quarantined",
                Some("unsupported format: not an image".to_owned()),
            ),
            _ => ("verified", None),
        };
        let qc = qc_doc(i);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO files (watch, rel, version, size, mtime_ns, sha256, state, error, attempts, \
             discovered_at, stable_at, processed_at, transferred_at, verified_at, updated_at, \
             format) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
             json_extract(?15, '$.inspect.format')) RETURNING id",
        )
        .bind(watch.to_string_lossy().as_ref())
        .bind(&rel)
        .bind(8_388_608 + i as i64)
        .bind(1_764_576_000_000_000_000i64 + i as i64)
        .bind(&sha)
        .bind(state)
        .bind(error)
        .bind(i64::from(state != "verified"))
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(at)
        .bind((state == "verified").then_some(at))
        .bind(at)
        .bind(&qc)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO qc_documents (file_id, doc) VALUES (?, ?)")
            .bind(id)
            .bind(&qc)
            .execute(&mut *tx)
            .await?;
        for dest in ["nas", "nas2"] {
            sqlx::query(
                "INSERT INTO copies (file_id, destination, state, sha256, transferred_at, verified_at, \
                 updated_at, path) VALUES (?, ?, 'verified', ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(dest)
            .bind(&sha)
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(format!("raw/{rel}"))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    println!("{n} files in journal {}", db.display());
    Ok(())
}

/// The `{"inspect", "qc", "sha256"}` document the agent keeps for a 2-channel OME-TIFF.
fn qc_doc(i: usize) -> String {
    serde_json::json!({
        "inspect": {
            "format": if i.is_multiple_of(3) { "czi" } else { "ome-tiff" },
            "axes": "CZYX", "shape": [2, 20, 1024, 1024], "dtype": "uint16",
            "physical_sizes": {"x": 0.1032, "y": 0.1032, "z": 0.5},
            "physical_unit": "micrometer", "channel_names": ["DAPI", "GFP"],
            "acquired_at": "2026-12-01T07:59:00Z", "instrument": "LSM 980, Plan-Apochromat 63x/1.40 Oil",
            "series": [{"index": 0, "name": null, "axes": "CZYX", "shape": [2, 20, 1024, 1024], "dtype": "uint16"}],
            "metadata": {"Experimenter": format!("user{:02}", i % 37), "ImageDescription": "x".repeat(300)},
        },
        "qc": {"channels": [
            {"index": 0, "name": "DAPI", "snr": 25.1, "saturation_fraction": 0.0, "otsu_threshold": 812.0, "min": 95, "max": 4095, "mean": 640.2},
            {"index": 1, "name": "GFP", "snr": 6.5, "saturation_fraction": 0.002, "otsu_threshold": 300.0, "min": 90, "max": 65535, "mean": 210.7},
        ]},
        "sha256": format!("{:064x}", i + 1),
    })
    .to_string()
}
