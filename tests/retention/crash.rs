//! Crashes: an abort placed exactly between two steps of a purge (the intent written, the
//! file deleted or moved), then `kill -9` at random moments over several rounds. No file may
//! be half-handled, and the journal must converge to "purged" for every file.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::world::*;
use crate::util::*;

/// `retention run --now LATER` with the robot's fault hook set to abort at `point`.
fn run_with_fault(w: &World, point: &str) {
    let out = Command::new(scopeflow_bin())
        .args(args!["retention", "run", "--config", w.cfg, "--now", LATER])
        .env("SCOPEFLOW_RETENTION_FAULT", point)
        .stdin(Stdio::null())
        .output()
        .expect("start scopeflow");
    let stderr = String::from_utf8_lossy(&out.stderr);
    w.note(format!(
        "==== run with fault {point}: {} ====\n{stderr}",
        out.status
    ));
    w.check(!out.status.success() && stderr.contains(point), || {
        format!("the fault {point} did not fire")
    });
}

fn crash_at(dir: Dir, point: &str, trash: bool) {
    let lines: &[&str] = if trash {
        &["mode: trash", "trash_path: trash"]
    } else {
        &[]
    };
    let w = World::new(dir, &["nas"], lines);
    let a = w.put("a.tif", &small(0));
    let sha = sha256_file(&a);
    w.agent();
    run_with_fault(&w, point);
    let moved = w.dir.join("trash/a.tif");
    let gone = point == "after-purge";
    w.check(a.exists() != gone, || {
        format!("after {point}: raw file present = {}", a.exists())
    });
    w.check(!trash || moved.exists() == gone, || {
        "moved exactly when the source is gone".into()
    });
    w.check(w.state("a.tif") == "verified", || {
        "the journal is updated only after the purge".into()
    });
    let plan = w.plan(LATER);
    w.check(reason(&plan, "purge", "a.tif").is_some(), || {
        "the plan still lists it".into()
    });
    let run = w.run(LATER);
    let why = reason(&run, "purge", "a.tif").unwrap_or_default();
    let want = if gone { "recovered" } else { "purged" };
    w.check(why.starts_with(want), || {
        format!("after {point}: reason {why:?}")
    });
    w.check(w.state("a.tif") == "purged" && !a.exists(), || {
        "converged".into()
    });
    w.check(!trash || sha256_file(&moved) == sha, || {
        "the trash holds the file".into()
    });
    let codes: Vec<String> = w
        .audit()
        .iter()
        .map(|r| r["decision"].as_str().unwrap_or("").to_string())
        .collect();
    let want = if gone {
        "recovered"
    } else if trash {
        "trashed"
    } else {
        "purged"
    };
    w.check(codes == [want], || format!("audit {codes:?}"));
}

sftest!(crash_after_intent_delete, |dir: Dir| crash_at(
    dir,
    "after-intent",
    false
));
sftest!(crash_after_delete_before_journal, |dir: Dir| crash_at(
    dir,
    "after-purge",
    false
));
sftest!(crash_after_move_to_trash_before_journal, |dir: Dir| {
    crash_at(dir, "after-purge", true)
});

/// A small xorshift generator: the seed is printed, so a failing round can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

sftest!(kill9_during_runs_never_half_handles_a_file, |dir: Dir| {
    const FILES: usize = 24;
    const ROUNDS: usize = 8;
    let w = World::new(dir, &["nas"], &["mode: trash", "trash_path: trash"]);
    let mut files: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for i in 0..FILES {
        let rel = format!("run{}/f{i:02}.tif", i % 3);
        // A real image with 8 MiB of trailing bytes (readers ignore them): hashing and
        // re-verifying take long enough for the kills to land in the middle of a run.
        let p = w.put(&rel, &small(i));
        let mut f = fs::OpenOptions::new().append(true).open(&p).expect("open");
        f.write_all(&vec![i as u8; 8 << 20]).expect("grow");
        drop(f);
        files.insert(rel, (p.clone(), sha256_file(&p)));
    }
    w.agent();
    let seed = std::env::var("SCOPEFLOW_RETENTION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::process::id() as u64 * 2_654_435_761 + 1);
    let mut rng = Rng(seed);
    w.note(format!("seed {seed} (SCOPEFLOW_RETENTION_SEED to replay)"));
    let mut kills = Vec::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(scopeflow_bin())
            .args(args!["retention", "run", "--config", w.cfg, "--now", LATER])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the robot");
        let after = Duration::from_millis(5 + rng.below(150));
        let start = Instant::now();
        while start.elapsed() < after && child.try_wait().expect("wait").is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let finished = child.try_wait().expect("wait").is_some();
        let _ = child.kill();
        let _ = child.wait();
        kills.push((after.as_millis(), finished));
        // Each file is wholly in one place, with its bytes, never in both or neither.
        let status = w.status();
        for (rel, (src, sha)) in &files {
            let moved = w.dir.join("trash").join(rel);
            let (here, there) = (exists_at_all(src), exists_at_all(&moved));
            w.check(here != there, || {
                format!("round {round}: {rel} in acq {here}, in trash {there}")
            });
            let p = if here { src } else { &moved };
            w.check(sha256_file(p) == *sha, || {
                format!("round {round}: {rel} damaged")
            });
            let st = status
                .iter()
                .find(|f| f["path"] == rel.as_str())
                .map(|f| f["state"].clone());
            let purged = st.as_ref().is_some_and(|s| s == "purged");
            w.check(!purged || there, || {
                format!("round {round}: {rel} purged in the journal but still in acq")
            });
        }
    }
    w.note(format!("kills (ms, had finished): {kills:?}"));
    let mid_run = kills.iter().filter(|(_, finished)| !finished).count();
    // Later rounds have less left to do and may finish first; a few cut runs are the point.
    w.check(mid_run >= 2, || {
        format!("only {mid_run} of {ROUNDS} kills landed during a run")
    });
    eprintln!("retention kill9: seed {seed}, kills {kills:?}");
    let run = w.run(LATER);
    let left = paths(&run, "keep");
    w.check(left.is_empty(), || {
        format!("kept after the last run: {left:?}")
    });
    let states: Vec<String> = w
        .status()
        .iter()
        .map(|f| f["state"].as_str().unwrap_or("").to_string())
        .collect();
    w.check(
        states.len() == FILES && states.iter().all(|s| s == "purged"),
        || format!("states {states:?}"),
    );
    let audit = w.audit();
    let mut purged: Vec<String> = audit
        .iter()
        .filter(|r| matches!(r["decision"].as_str(), Some("trashed" | "recovered")))
        .filter_map(|r| r["file"]["path"].as_str().map(str::to_string))
        .collect();
    purged.sort();
    purged.dedup();
    w.check(purged.len() == FILES, || {
        format!("every purge audited: {} of {FILES}", purged.len())
    });
    w.check(
        fs::read_dir(w.dir.join("acq/run0"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        || "acq emptied".into(),
    );
});
