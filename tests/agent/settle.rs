//! Files still being written (settling), and polling for network folders.

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use super::expect::*;
use super::world::*;
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// 4. a file still being written
// ---------------------------------------------------------------------------------------------

sftest!(slow_writer, |dir: Dir| {
    const SETTLE: Duration = Duration::from_secs(2);
    let env = Env::new(dir, &Pipeline::new("2s"));
    let mut agent = env.start_agent("agent.log");
    // Let it start (and rescan the empty folder), so the file is found by events.
    std::thread::sleep(Duration::from_millis(1000));
    if let Some(s) = agent.exited() {
        env.fail(format!("the agent exited right after starting: {s}"));
    }

    let bytes = fs::read(REAL_AICS_OME.path()).expect("read the sample");
    let target = env.watch.join("slow.ome.tiff");
    let pieces = 20;
    let writer = {
        let target = target.clone();
        let bytes = bytes.clone();
        std::thread::spawn(move || {
            let mut f = fs::File::create(&target).expect("create the slow file");
            let step = bytes.len().div_ceil(pieces);
            let mut last = Instant::now();
            for (i, chunk) in bytes.chunks(step).enumerate() {
                if i > 0 {
                    std::thread::sleep(Duration::from_millis(300));
                }
                f.write_all(chunk).expect("append");
                f.flush().expect("flush");
                last = Instant::now();
            }
            last
        })
    };
    let mut done_writing: Option<Instant> = None;
    let mut p = Problems::new();
    let mut early: Vec<String> = Vec::new();
    let mut status_failures = Vec::new();
    let rel = "slow.ome.tiff";
    let mut writer = Some(writer);
    let started = Instant::now();
    let mut polls = 0;
    // Until the writes stopped for SETTLE (less a little for clock granularity), nothing may
    // leave the stable state and nothing may reach the destination.
    loop {
        if writer.as_ref().is_some_and(|w| w.is_finished()) {
            done_writing = writer.take().map(|w| w.join().expect("writer thread"));
        }
        let quiet_until =
            done_writing.and_then(|t| (t + SETTLE).checked_sub(Duration::from_millis(150)));
        if quiet_until.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        polls += 1;
        let at = started.elapsed().as_secs_f64();
        for (d, what) in [
            (env.dest.join("raw").join(rel), "raw copy"),
            (env.dest.join("ome-zarr/slow.ome.zarr"), "OME-Zarr"),
            (env.dest.join("qc/slow.json"), "QC JSON"),
        ] {
            if exists_at_all(&d) {
                early.push(format!(
                    "{at:.1}s after the first write: the {what} is at the destination while the \
                     file was still being written (or settling)"
                ));
            }
        }
        match env.try_status() {
            Ok(files) => {
                for e in entries(&files, rel) {
                    let s = state_of(e);
                    if !["discovered", "stable"].contains(&s) {
                        early.push(format!(
                            "{at:.1}s after the first write: state {s:?} (error {:?}) while the \
                             file was still being written (or settling)",
                            error_text(e)
                        ));
                    }
                }
            }
            Err(r) => status_failures.push(r.to_string()),
        }
        if early.len() > 6 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    env.say(format!(
        "slow_writer: {polls} polls while writing/settling, none saw processing: {}",
        early.is_empty()
    ));
    for e in early {
        p.push(e);
    }
    let files = env.wait_status(
        "the slow file verified",
        SETTLE + Duration::from_secs(40),
        &mut status_failures,
        |files| all_verified(files, &[rel.to_string()]),
    );
    if let Some(last) = done_writing {
        env.say(format!(
            "slow_writer: verified {:.1}s after the last write (settle {}s)",
            last.elapsed().as_secs_f64(),
            SETTLE.as_secs()
        ));
    }
    let final_sha = sha256_file(&target);
    p.check(final_sha == sha256_file(&REAL_AICS_OME.path()), || {
        "the test's writer did not write the whole sample".into()
    });
    let raws = vec![(rel.to_string(), target.clone())];
    check_status_v1(&mut p, &files, &raws);
    match agent.terminate(Duration::from_secs(5)) {
        Ok((s, _)) => p.check(s.success(), || {
            format!("after SIGTERM: {s}, expected exit 0")
        }),
        Err(e) => p.push(e),
    }
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    report_status_failures(&mut p, &status_failures);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 5. polling, for network folders
// ---------------------------------------------------------------------------------------------

sftest!(poll_mode, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").poll("1s").watch("rescan: 5m"));
    let mut agent = env.start_agent("agent.log");
    std::thread::sleep(Duration::from_millis(1000));
    if let Some(s) = agent.exited() {
        env.fail(format!("the agent exited right after starting: {s}"));
    }
    // One file at the top, one in a folder made after the start.
    let rels = [
        "dropped.tif".to_string(),
        "day-2/dropped.ome.tiff".to_string(),
    ];
    env.put(&rels[0], &REAL_MAIZE.path());
    env.put(&rels[1], &REAL_LARGEIMG.path());
    let dropped = Instant::now();
    let mut status_failures = Vec::new();
    // settle 1 s + poll interval 1 s + a few seconds of work.
    let limit = Duration::from_secs(1 + 1 + 10);
    let files = env.wait_status(
        "both dropped files verified (polling)",
        limit,
        &mut status_failures,
        |files| all_verified(files, &rels),
    );
    env.say(format!(
        "poll_mode: verified {:.1}s after the drop",
        dropped.elapsed().as_secs_f64()
    ));
    let mut p = Problems::new();
    let raws = raws_of(&env, &[&rels[0], &rels[1]]);
    check_status_v1(&mut p, &files, &raws);
    match agent.terminate(Duration::from_secs(5)) {
        Ok((s, took)) => p.check(s.success(), || {
            format!(
                "after SIGTERM: {s} (after {:.1}s), expected exit 0",
                took.as_secs_f64()
            )
        }),
        Err(e) => p.push(e),
    }
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    report_status_failures(&mut p, &status_failures);
    env.finish(p);
});
