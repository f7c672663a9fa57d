//! SIGKILL at random moments (every file still delivered exactly once), and `protect_raw`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use super::expect::*;
use super::world::*;
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// 9. SIGKILL at random moments: every file still delivered exactly once
// ---------------------------------------------------------------------------------------------

sftest!(kill9_exactly_once, |dir: Dir| {
    const ROUNDS: usize = 20;
    const FILES: usize = 24;
    let started = Instant::now();
    // Small chunks: ~350 files per OME-Zarr, so converting, copying and reading back take
    // long enough for most kills to land in the middle of the work.
    let env = Env::new(
        dir,
        // A kill during conversion counts as an attempt (crash quarantine); the rounds may hit
        // the same file more often than the default 5 attempts allow.
        &Pipeline::new("1s")
            .top("workers: 2")
            .top("steps: [metadata, qc, {convert: {chunk_yx: 64}}]")
            .top("retry: {max_attempts: 1000, backoff: 0s, max_backoff: 1s}"),
    );
    let raws = put_many(&env, FILES);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let seed = seed("SCOPEFLOW_KILL9_SEED");
    let mut rng = Rng(seed);
    let mut p = Problems::new();
    let mut sleeps = Vec::new();
    for round in 1..=ROUNDS {
        let ms = rng.range(50, 1500);
        sleeps.push(ms);
        let mut agent = env.start_agent("agent.log");
        std::thread::sleep(Duration::from_millis(ms));
        if let Some(s) = agent.exited() {
            p.push(format!(
                "round {round}: the agent exited by itself ({s}) before the SIGKILL at {ms} ms"
            ));
        }
        agent.kill9();
    }
    let progress = env
        .try_status()
        .map(|files| {
            let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
            for f in &files {
                *by_state.entry(state_of(f).to_string()).or_default() += 1;
            }
            format!("{by_state:?}")
        })
        .unwrap_or_else(|r| format!("status failed:\n{r}"));
    env.say(format!(
        "kill9: seed {seed}, {ROUNDS} rounds killed after {sleeps:?} ms, {:.1}s; states before \
         the final --once: {progress}",
        started.elapsed().as_secs_f64()
    ));

    let left = Duration::from_secs(180).saturating_sub(started.elapsed());
    let r = env.once(left.max(Duration::from_secs(30)));
    p.check(r.code() == Some(0), || {
        format!("final agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    p.check(files.len() == FILES, || {
        format!("status has {} entries, expected {FILES}", files.len())
    });
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    let count = |sub: &str| walk_files(&env.dest.join(sub)).len();
    let zarrs = zarr_dirs(&env.dest.join("ome-zarr")).len();
    p.check(
        count("raw") == FILES && zarrs == FILES && count("qc") == 2 * FILES,
        || {
            format!(
                "the destination holds {} raw files, {zarrs} OME-Zarr, {} QC files; expected \
                 {FILES} of each (and a thumbnail beside each QC document)",
                count("raw"),
                count("qc")
            )
        },
    );
    check_manifest(&mut p, &env.dest);
    check_no_tmp(
        &mut p,
        env.dir.path(),
        "the test folder (destination, state folder, watch folder)",
    );
    snap.check_unchanged(&mut p);
    env.say(format!(
        "kill9: seed {seed}, whole test {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 10. protect_raw
// ---------------------------------------------------------------------------------------------

sftest!(
    #[cfg(unix)]
    protect_raw,
    |dir: Dir| {
        let env = Env::new(dir, &Pipeline::new("1s").top("protect_raw: true"));
        let path = env.put("protected.tif", &REAL_MAIZE.path());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 644");
        let snap = RawSnapshot::take(std::slice::from_ref(&path));
        let r = env.once(ONCE_LIMIT);
        let mut p = Problems::new();
        p.check(r.code() == Some(0), || {
            format!("agent --once: exit {:?}, expected 0", r.code())
        });
        let raws = raws_of(&env, &["protected.tif"]);
        check_status_v1(&mut p, &env.status(), &raws);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        p.check(mode & 0o222 == 0, || {
            format!(
                "the verified raw file is still writable: mode {:o}",
                mode & 0o7777
            )
        });
        check_destination(&mut p, &env.dest, &expected_v1(&raws));
        check_manifest(&mut p, &env.dest);
        snap.check_unchanged(&mut p);
        env.finish(p);
    }
);
