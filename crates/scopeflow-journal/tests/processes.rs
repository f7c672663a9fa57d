//! Other processes: a second agent writing beside us, and one killed (SIGKILL) mid-write.
//!
//! The child processes are this test binary itself, re-run on `child_process_entry` with
//! `CHILD_ENV` saying what to do; in a normal run that test does nothing.

mod common;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{AT, dests, sha};
use scopeflow_journal::Journal;

const CHILD_ENV: &str = "SCOPEFLOW_JOURNAL_TEST_CHILD";
/// Printed by the child after each commit returned; a line is trusted only if it is whole.
const MARK: &str = "@@committed ";
/// The states the child takes each file through, in order.
const STEPS: [&str; 4] = ["discovered", "stable", "processed", "verified"];

#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut parts = spec.split('\t');
    let (mode, path, tag) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let j = Journal::open(Path::new(path)).await.unwrap();
        match mode {
            "crash" => loop_until_killed(&j, tag).await,
            "writer" => write_files(&j, tag, 40).await,
            other => panic!("unknown child mode {other}"),
        }
    });
}

async fn loop_until_killed(j: &Journal, round: &str) {
    let say = |id: i64, state: &str| println!("{MARK}{id} {state}");
    for i in 0.. {
        let n = i % 1000;
        let row = j
            .observe("acq", &format!("r{round}/{i}.tif"), 10, 1)
            .await
            .unwrap();
        say(row.id, "discovered");
        j.mark_stable(row.id).await.unwrap();
        say(row.id, "stable");
        j.mark_processed(row.id, &sha(n), None).await.unwrap();
        say(row.id, "processed");
        j.copy_transferred(row.id, "nas", &sha(n), "raw/x.tif")
            .await
            .unwrap();
        j.copy_verified(row.id, "nas", &sha(n), AT).await.unwrap();
        j.enqueue("verified", &format!("{{\"id\":{}}}", row.id))
            .await
            .unwrap();
        assert_eq!(
            j.refresh_state(row.id, &dests(&["nas"])).await.unwrap(),
            "verified"
        );
        say(row.id, "verified");
    }
}

async fn write_files(j: &Journal, who: &str, count: u32) {
    for i in 0..count {
        j.observe("acq", &format!("shared/{i}.tif"), 1, 1)
            .await
            .unwrap();
        let id = common::processed(j, &format!("{who}/{i}.tif"), i).await;
        j.copy_verified(id, "nas", &sha(i), AT).await.unwrap();
        assert_eq!(
            j.refresh_state(id, &dests(&["nas"])).await.unwrap(),
            "verified"
        );
    }
}

fn child(mode: &str, path: &Path, tag: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "child_process_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, format!("{mode}\t{}\t{tag}", path.display()));
    c
}

/// A cheap pseudo-random number without a dependency: the clock's nanoseconds, mixed.
fn jitter(round: u64, max: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    (t ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0x2545_f491_4f6c_dd1d) % max
}

#[cfg(unix)]
#[test]
fn a_killed_writer_loses_nothing_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Last state the child reported committed, per file id, across all rounds.
    let mut reported: HashMap<i64, usize> = HashMap::new();
    for round in 0..10u64 {
        let mut c = child("crash", &path, &round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while out.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line.ends_with('\n')
                    && let Some(at) = line.find(MARK)
                {
                    let _ = tx.send(line[at + MARK.len()..].trim_end().to_string());
                }
                line.clear();
            }
        });
        // Let it commit something (it has to start and reopen after the last kill), then kill
        // it at a moment nobody chose.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the child commits");
        std::thread::sleep(Duration::from_millis(jitter(round, 250)));
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        reader.join().unwrap();
        for line in std::iter::once(first).chain(rx.try_iter()) {
            let (id, state) = line.split_once(' ').unwrap();
            let step = STEPS.iter().position(|s| *s == state).unwrap();
            reported.insert(id.parse().unwrap(), step);
        }

        rt.block_on(async {
            let j = Journal::open(&path)
                .await
                .expect("the journal reopens after a kill");
            for (&id, &step) in &reported {
                let row = j.get(id).await.expect("a reported file is there");
                let now = STEPS.iter().position(|s| *s == row.state).unwrap();
                // The child may have committed one more step before it died, never fewer.
                assert!(
                    now >= step,
                    "file {id}: reported {}, found {}",
                    STEPS[step],
                    row.state
                );
                if STEPS[now] == "verified" {
                    let copies = j.copies(id).await.unwrap();
                    assert_eq!(copies[0].state, "verified");
                    assert_eq!(copies[0].sha256, row.sha256);
                }
            }
            // At most one file per round was observed but not reported.
            let rows = j.status().await.unwrap().len();
            assert!(rows >= reported.len() && rows <= reported.len() + round as usize + 1);
            j.close().await;
        });
    }
    assert!(reported.len() >= 10);
}

#[test]
fn another_process_writes_beside_us() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let started = Instant::now();
    let mut c = child("writer", &path, "child")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let j = Journal::open(&path).await.unwrap();
        write_files(&j, "parent", 40).await;
    });
    assert!(
        c.wait().unwrap().success(),
        "the child process failed (see its output)"
    );
    rt.block_on(async {
        let j = Journal::open(&path).await.unwrap();
        let status = j.status().await.unwrap();
        let count = |p: &str| status.iter().filter(|s| s.file.rel.starts_with(p)).count();
        assert_eq!(
            (count("parent/"), count("child/"), count("shared/")),
            (40, 40, 40)
        );
        let verified = status.iter().filter(|s| s.file.state == "verified").count();
        assert_eq!(verified, 80);
    });
    assert!(started.elapsed() < Duration::from_secs(60));
}
