//! Load benchmark of the central server: ingest rate (events/s, batches over HTTP) into a fresh
//! database until it holds N file rows, then the latency of the API calls and pages that the
//! dashboard makes. Run by `benches/server_load.sh`; prints a Markdown table.
//!
//! `cargo run --release -p scopeflow-server --example server_load -- --db URL [--files N]
//!  [--batch 500] [--agents 10] [--full 50000] [--repeat 20]`

use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Args {
    db: String,
    files: usize,
    batch: usize,
    agents: usize,
    full: usize,
    repeat: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        db: String::new(),
        files: 1_000_000,
        batch: 500,
        agents: 10,
        full: 50_000,
        repeat: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || {
            value
                .parse::<usize>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--db" => a.db = value.clone(),
            "--files" => a.files = num()?,
            "--batch" => a.batch = num()?.max(1),
            "--agents" => a.agents = num()?.max(1),
            "--full" => a.full = num()?,
            "--repeat" => a.repeat = num()?.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.db.is_empty() {
        return Err("--db URL is required (a fresh database)".into());
    }
    Ok(a)
}

/// The events of file `i`: the first `full` files get their whole life (found, processed,
/// copy_verified, verified), the others processed + verified; 2% fail, 0.5% are quarantined.
fn events_of(i: usize, full: usize) -> Vec<Value> {
    let day = 1 + (i % 28);
    let hour = i % 24;
    let at = |m: usize| format!("2026-10-{day:02}T{hour:02}:{m:02}:00Z");
    let users = ["alice", "bob", "carol", "dave", "erin", "frank"];
    let path = format!("{}/{}/run-{i:07}.ome.tif", users[i % users.len()], day);
    let instrument = ["LSM 980", "Spinning disk", "Widefield", "Light sheet"][i % 4];
    let file = json!({"watch": "acq", "path": path, "version": 1, "sha256": null, "size": 50_000_000 + (i % 1000) as u64 * 1000});
    let sat = if i.is_multiple_of(97) { 0.004 } else { 0.00001 };
    let qc = json!({
        "inspect": {"format": "ome-tiff", "axes": "CZYX", "shape": [2, 20, 1024, 1024], "dtype": "uint16",
            "channel_names": ["DAPI", "GFP"], "acquired_at": at(0), "instrument": instrument, "metadata": {}},
        "qc": {"channels": [
            {"index": 0, "name": "DAPI", "snr": 20.0 + (i % 50) as f64 / 10.0, "saturation_fraction": 0.0},
            {"index": 1, "name": "GFP", "snr": 8.0 + (i % 30) as f64 / 10.0, "saturation_fraction": sat}]},
        "sha256": format!("{i:064x}"),
    });
    let ev = |n: usize, kind: &str, data: Value| json!({"id": format!("f{i}-{n}"), "at": at(n), "file": file, "kind": kind, "data": data});
    let mut out = Vec::new();
    if i < full {
        out.push(ev(1, "found", json!({})));
    }
    out.push(ev(2, "processed", json!({"qc": qc})));
    if i % 50 == 7 {
        out.push(ev(
            3,
            "failed",
            json!({"error": "nas: connection refused", "attempts": 1}),
        ));
    } else if i % 200 == 13 {
        out.push(ev(3, "quarantined", json!({"error": "not a TIFF"})));
    } else {
        if i < full {
            out.push(ev(
                3,
                "copy_verified",
                json!({"destination": "nas", "verified_at": at(3)}),
            ));
        }
        out.push(ev(4, "verified", json!({})));
    }
    out
}

fn stats(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.95), ms[ms.len() - 1])
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("server_load: {e}");
            std::process::exit(2);
        }
    };
    let mut tokens = Vec::new();
    for n in 0..a.agents {
        tokens.push(
            scopeflow_server::create_token(Some(&a.db), Some(&format!("scope-{n}")), false)
                .await
                .expect("token"),
        );
    }
    let viewer = scopeflow_server::create_token(Some(&a.db), None, true)
        .await
        .expect("viewer token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let opts = scopeflow_server::ServeOptions {
        db: Some(a.db.clone()),
        ..Default::default()
    };
    let server = scopeflow_server::start(opts, listener)
        .await
        .expect("server");
    let base = server.url();
    let http = reqwest::Client::new();

    // Ingest: files are dealt to agents in blocks, each batch holds whole files' events.
    let started = Instant::now();
    let (mut events, mut batches, mut slowest, mut busy) =
        (0usize, 0usize, Duration::ZERO, Duration::ZERO);
    let mut next = 0usize;
    let mut report = Instant::now();
    while next < a.files {
        let agent = batches % a.agents;
        let mut evs = Vec::with_capacity(a.batch + 4);
        while evs.len() < a.batch && next < a.files {
            evs.extend(events_of(next, a.full));
            next += 1;
        }
        let body = json!({"agent": format!("scope-{agent}"), "host": format!("acq-{agent}"), "queue": 0, "events": evs});
        let body = serde_json::to_vec(&body).expect("json");
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/events"))
            .bearer_auth(&tokens[agent])
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = r.status();
        let ack: Value = r.json().await.expect("ack");
        assert!(status.is_success(), "POST /api/events: {status} {ack}");
        assert_eq!(ack["new"].as_u64(), Some(evs.len() as u64), "{ack}");
        slowest = slowest.max(t.elapsed());
        busy += t.elapsed();
        events += evs.len();
        batches += 1;
        if report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {next} files, {events} events, {:.0} events/s",
                events as f64 / started.elapsed().as_secs_f64()
            );
            report = Instant::now();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    if a.files == 0 {
        eprintln!("--files 0: no ingest, latency of the calls on the database as it is");
    } else {
        // `busy` leaves out the time this process spends building the batches (an agent's work).
        let server_secs = busy.as_secs_f64();
        println!(
            "| ingest | {} files, {events} events in {batches} batches of ~{} | {secs:.1} s wall, {server_secs:.1} s in POST | **{:.0} events/s** in POST ({:.0} wall; {:.0} files/s), slowest batch {:.0} ms |",
            a.files,
            a.batch,
            events as f64 / server_secs,
            events as f64 / secs,
            a.files as f64 / secs,
            slowest.as_secs_f64() * 1000.0
        );
    }
    let some_id = {
        let r: Value = http
            .get(format!("{base}/api/files?offset=777&limit=1"))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        r["files"][0]["id"].as_i64().unwrap_or(1)
    };
    let one = format!("/api/files/{some_id}");

    let calls: [&str; 19] = [
        "/api/files",
        "/api/files?agent=scope-3",
        "/api/files?state=failed",
        "/api/files?instrument=Widefield",
        "/api/files?q=gfp",
        "/api/files?q=carol%20run-00099",
        // One file of the million; then words of 2 characters, which no trigram index answers.
        "/api/files?q=run-0123457",
        "/api/files?q=zq",
        "/api/files?q=gf",
        "/api/files?from=2026-10-10&to=2026-10-11",
        "/api/files?offset=5000",
        &one,
        "/api/agents",
        "/api/overview",
        "/api/qc/trends",
        "/api/qc/trends?instrument=LSM%20980&channel=GFP",
        "/api/retention",
        "/metrics",
        "/",
    ];
    println!("| call | | median | p95 / max |");
    for path in calls {
        let mut ms = Vec::new();
        for _ in 0..a.repeat {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&viewer)
                .send()
                .await
                .expect("get");
            let status = r.status();
            let body = r.bytes().await.expect("body");
            assert!(
                status.is_success(),
                "GET {path}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p95, max) = stats(ms);
        println!("| GET {path} | | {p50:.1} ms | {p95:.1} / {max:.1} ms |");
    }
    server.stop().await.expect("stop");
}
