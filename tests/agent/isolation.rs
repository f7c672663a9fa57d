//! Panics and aborts stay with their file: a reader or a destination that panics fails that
//! file (or that copy) with the panic message, retried then quarantined like any failure,
//! while the other files and destinations go on; a file that aborts the whole process is
//! counted an attempt at each restart and ends quarantined instead of crash-looping the agent.
//!
//! The panics and the abort come from the debug build's documented test hooks
//! (`SCOPEFLOW_TEST_PANIC`, `SCOPEFLOW_TEST_ABORT_ON`; see `crates/scopeflow-agent/src/isolate.rs`),
//! which release builds ignore.

use std::fs;
use std::os::unix::process::ExitStatusExt;

use serde_json::Value;

use super::expect::*;
use super::world::*;
use crate::util::*;

const RETRY_3: &str = "retry: {max_attempts: 3, backoff: 0s, max_backoff: 1s}";

/// `rel` is quarantined after `attempts` attempts with an error holding every one of `words`.
fn check_quarantined(p: &mut Problems, files: &[Value], rel: &str, attempts: u64, words: &[&str]) {
    let es = entries(files, rel);
    let Some(e) = es.first() else {
        p.push(format!("status has no entry for {rel}"));
        return;
    };
    p.check(state_of(e) == "quarantined", || {
        format!("{rel}: state {:?}, expected quarantined", state_of(e))
    });
    p.check(
        e.get("attempts").and_then(Value::as_u64) == Some(attempts),
        || format!("{rel}: attempts {}, expected {attempts}", e["attempts"]),
    );
    let err = error_text(e);
    p.check(words.iter().all(|w| err.contains(w)), || {
        format!("{rel}: error {err:?} lacks one of {words:?}")
    });
}

/// `good.tif` is verified and alone at the destination, which checks with `sha256sum -c`.
fn check_only_good_delivered(p: &mut Problems, env: &Env, files: &[Value]) {
    let good = raws_of(env, &["good.tif"]);
    match entries(files, "good.tif").first() {
        Some(e) => {
            let size = fs::metadata(&good[0].1).map(|m| m.len()).unwrap_or(0);
            check_entry(p, e, "good.tif", &sha256_file(&good[0].1), size, 1);
        }
        None => p.push("status has no entry for good.tif"),
    }
    check_destination(p, &env.dest, &expected_v1(&good));
    check_manifest(p, &env.dest);
    check_no_tmp(p, env.dir.path(), "the test folder");
}

sftest!(a_panicking_reader_fails_only_its_file, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    env.put("good.tif", &REAL_MAIZE.path());
    env.put("bad.tif", &SYNTH_F.path());
    let hook = [("SCOPEFLOW_TEST_PANIC", "reader:bad.tif")];
    let r = env.once_with(ONCE_LIMIT, &hook);
    let mut p = Problems::new();
    p.check(r.code() == Some(1), || {
        format!("agent --once: exit {:?}, expected 1", r.code())
    });
    let files = env.status();
    check_quarantined(
        &mut p,
        &files,
        "bad.tif",
        3,
        &["bad.tif", "panicked", "a reader panicked"],
    );
    check_only_good_delivered(&mut p, &env, &files);
    env.finish(p);
});

sftest!(a_panicking_destination_fails_only_its_copies, |dir: Dir| {
    let env = Env::new(
        dir,
        &Pipeline::new("1s")
            .top(RETRY_3)
            .destination("  - name: shaky\n    kind: local\n    path: shaky\n"),
    );
    env.dir.mkdir("shaky");
    let raws: Vec<_> = ["a.tif", "b.tif"]
        .iter()
        .map(|rel| (rel.to_string(), env.put(rel, &SYNTH_F.path())))
        .collect();
    let hook = [("SCOPEFLOW_TEST_PANIC", "destination:shaky")];
    let r = env.once_with(ONCE_LIMIT, &hook);
    let mut p = Problems::new();
    p.check(r.code() == Some(1), || {
        format!("agent --once: exit {:?}, expected 1", r.code())
    });
    let files = env.status();
    for (rel, _) in &raws {
        check_quarantined(
            &mut p,
            &files,
            rel,
            3,
            &["shaky", "panicked", "destination shaky panicked"],
        );
        let verified: Vec<String> = entries(&files, rel)
            .first()
            .and_then(|e| e["copies"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|c| c["verified_at"].as_str().is_some_and(|s| !s.is_empty()))
            .filter_map(|c| c["destination"].as_str().map(str::to_owned))
            .collect();
        p.check(verified == [DEST_NAME], || {
            format!("{rel}: verified copies {verified:?}, expected only {DEST_NAME}")
        });
    }
    // The healthy destination got everything, checked byte for byte.
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);

    // Without the panic, `retry` then one run delivers the missing copies.
    let retried = scopeflow(args!["retry", "--config", env.cfg, "--all"]);
    p.check(retried.status.success(), || {
        format!("retry failed: {retried}")
    });
    let r2 = env.once(ONCE_LIMIT);
    p.check(r2.code() == Some(0), || {
        format!("agent --once after retry: exit {:?}, expected 0", r2.code())
    });
    let files = env.status();
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dir.join("shaky"), &expected_v1(&raws));
    check_manifest(&mut p, &env.dir.join("shaky"));
    env.finish(p);
});

sftest!(
    a_file_that_aborts_the_process_ends_quarantined,
    |dir: Dir| {
        let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3).top("workers: 1"));
        env.put("good.tif", &REAL_MAIZE.path());
        env.put("poison.tif", &SYNTH_F.path());
        let hook = [("SCOPEFLOW_TEST_ABORT_ON", "poison.tif")];
        let mut p = Problems::new();
        let mut aborts = 0;
        let mut last = None;
        // Each start counts the previous crash; the third crash quarantines the file, so the run
        // after it finishes without touching it.
        for _ in 0..6 {
            let r = env.once_with(ONCE_LIMIT, &hook);
            if r.status.signal() == Some(6) {
                aborts += 1;
                continue;
            }
            last = Some(r);
            break;
        }
        p.check(aborts == 3, || format!("{aborts} runs aborted, expected 3"));
        match &last {
            Some(r) => p.check(r.code() == Some(1), || {
                format!("the run after the crashes: exit {:?}, expected 1", r.code())
            }),
            None => p.push("the agent still aborted after 6 runs: a crash loop"),
        }
        let files = env.status();
        check_quarantined(
            &mut p,
            &files,
            "poison.tif",
            3,
            &["the process died while processing this file (attempt 3)"],
        );
        check_only_good_delivered(&mut p, &env, &files);
        env.finish(p);
    }
);
