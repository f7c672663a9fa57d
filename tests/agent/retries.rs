//! Failures: a corrupt file quarantined after its attempts, a file replaced after processing,
//! an unreachable or vanishing destination that fails without quarantining.

use std::fs;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::expect::*;
use super::world::*;
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// 6. a corrupt file is quarantined after its attempts, the others go through
// ---------------------------------------------------------------------------------------------

const RETRY_3: &str = "retry: {max_attempts: 3, backoff: 0s, max_backoff: 1s}";

/// Words of which one names why random bytes are not an image.
const NOT_AN_IMAGE: &[&str] = &[
    "tiff",
    "magic",
    "signature",
    "header",
    "format",
    "byte order",
    "unrecogni",
    "unsupported",
    "not a",
    "invalid",
    "corrupt",
];

sftest!(corrupt_quarantined, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    let bad = env.watch.join("bad.tif");
    fs::write(&bad, Rng(7).bytes(64 * 1024)).expect("write the corrupt file");
    env.put("good.tif", &REAL_MAIZE.path());
    let snap = RawSnapshot::take(&[bad.clone(), env.watch.join("good.tif")]);
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(1), || {
        format!("agent --once: exit {:?}, expected 1", r.code())
    });
    let files = env.status();
    let es = entries(&files, "bad.tif");
    p.check(es.len() == 1, || {
        format!("status has {} entries for bad.tif, expected 1", es.len())
    });
    if let Some(e) = es.first() {
        p.check(state_of(e) == "quarantined", || {
            format!("bad.tif: state {:?}, expected quarantined", state_of(e))
        });
        let err = error_text(e).to_lowercase();
        p.check(NOT_AN_IMAGE.iter().any(|w| err.contains(w)), || {
            format!("bad.tif: error {err:?} names no cause (none of {NOT_AN_IMAGE:?})")
        });
        p.check(e.get("attempts").and_then(Value::as_u64) == Some(3), || {
            format!(
                "bad.tif: attempts {}, expected 3",
                e.get("attempts").unwrap_or(&Value::Null)
            )
        });
        let verified_copies = e
            .get("copies")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter(|c| !c.get("verified_at").is_none_or(Value::is_null))
                    .count()
            })
            .unwrap_or(0);
        p.check(verified_copies == 0, || {
            "bad.tif has a verified copy".into()
        });
    }
    let good = raws_of(&env, &["good.tif"]);
    match entries(&files, "good.tif").first() {
        Some(e) => check_entry(
            &mut p,
            e,
            "good.tif",
            &sha256_file(&good[0].1),
            fs::metadata(&good[0].1).map(|m| m.len()).unwrap_or(0),
            1,
        ),
        None => p.push("status has no entry for good.tif"),
    }
    // Only the good file at the destination: nothing of bad.tif (raw, OME-Zarr, QC).
    check_destination(&mut p, &env.dest, &expected_v1(&good));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 7. a file replaced with other content after it was processed
// ---------------------------------------------------------------------------------------------

sftest!(replaced_file, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s"));
    let path = env.put("img.tif", &REAL_METAMORPH.path());
    let (old_sha, old_size) = (sha256_file(&path), fs::metadata(&path).unwrap().len());
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("first agent --once: exit {:?}, expected 0", r.code())
    });
    let raws = raws_of(&env, &["img.tif"]);
    check_status_v1(&mut p, &env.status(), &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    env.finish(p);
    let mut before = tree_hashes(&env.dest);
    before.remove("manifest-sha256.txt"); // gains the second version's lines
    before.remove("ro-crate-metadata.json"); // describes the second version too

    // Overwritten in place with another image.
    fs::write(&path, fs::read(REAL_NIKON.path()).unwrap()).expect("overwrite the raw file");
    let (new_sha, new_size) = (sha256_file(&path), fs::metadata(&path).unwrap().len());
    assert_ne!(old_sha, new_sha);
    let snap = RawSnapshot::take(std::slice::from_ref(&path));
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("second agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    let es = entries(&files, "img.tif");
    p.check(es.len() == 2 && files.len() == 2, || {
        format!(
            "status has {} entries for img.tif ({} in all), expected 2 (versions 1 and 2)",
            es.len(),
            files.len()
        )
    });
    for (version, sha, size) in [(1, &old_sha, old_size), (2, &new_sha, new_size)] {
        match es.iter().find(|e| version_of(e) == Some(version)) {
            Some(e) => check_entry(&mut p, e, "img.tif", sha, size, version),
            None => p.push(format!("status has no version {version} of img.tif")),
        }
    }
    check_destination(
        &mut p,
        &env.dest,
        &[
            Expected::v1("img.tif", &old_sha),
            Expected::v2("img.tif", &new_sha),
        ],
    );
    let after = tree_hashes(&env.dest);
    let touched: Vec<String> = before
        .iter()
        .filter(|(f, h)| after.get(*f) != Some(h))
        .map(|(f, _)| f.clone())
        .collect();
    p.check(touched.is_empty(), || {
        format!(
            "the first version's copies changed or vanished: {}",
            show_list(&touched)
        )
    });
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 8. an unreachable destination fails the run without quarantining; it goes through later
// ---------------------------------------------------------------------------------------------

sftest!(unreachable_destination, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    let rels = ["one.tif", "two.ome.tiff"];
    env.put(rels[0], &REAL_MAIZE.path());
    env.put(rels[1], &REAL_LARGEIMG.path());
    let raws = raws_of(&env, &rels);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let check = scopeflow(args!["pipeline", "check", env.cfg]);
    env.note(format!("==== pipeline check ====\n{check}"));
    if !check.status.success() {
        env.fail("`pipeline check` rejects the pipeline");
    }
    // The NAS "goes away": the destination's parent folder is removed.
    let parent = env.dir.join("nas");
    fs::remove_dir_all(&parent).expect("remove the destination's parent");

    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(1), || {
        format!(
            "agent --once with the destination gone: exit {:?}, expected 1",
            r.code()
        )
    });
    let files = match env.try_status() {
        Ok(files) => files,
        Err(r) => {
            p.push(format!(
                "`status --json` fails while the destination is unreachable:\n{r}"
            ));
            Vec::new()
        }
    };
    for rel in rels.iter().filter(|_| !files.is_empty()) {
        let es = entries(&files, rel);
        p.check(es.len() == 1, || {
            format!("status has {} entries for {rel}, expected 1", es.len())
        });
        for e in es {
            let s = state_of(e);
            p.check(!["verified", "quarantined", "purged"].contains(&s), || {
                format!("{rel}: state {s:?} with the destination gone (expected failed or pending)")
            });
            let err = error_text(e);
            p.check(err.contains(DEST_NAME) || err.contains(DEST_REL), || {
                format!(
                    "{rel}: error {err:?} does not name the destination \
                         ({DEST_NAME:?} or its path)"
                )
            });
        }
    }
    p.check(!exists_at_all(&parent), || {
        format!(
            "the agent re-created the missing destination parent {}",
            parent.display()
        )
    });
    env.finish(p);

    // The NAS is back.
    fs::create_dir_all(&env.dest).expect("recreate the destination");
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!(
            "agent --once with the destination back: exit {:?}, expected 0",
            r.code()
        )
    });
    check_status_v1(&mut p, &env.status(), &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// The destination disappears under a running agent: files fail on it with an error naming it,
// are not quarantined however often they are retried, and go through once it is back.
sftest!(destination_vanishes_while_running, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top(RETRY_3));
    let mut agent = env.start_agent("agent.log");
    std::thread::sleep(Duration::from_millis(1000));
    if let Some(s) = agent.exited() {
        env.fail(format!("the agent exited right after starting: {s}"));
    }
    let parent = env.dir.join("nas");
    fs::remove_dir_all(&parent).expect("remove the destination's parent");
    let rels = ["one.tif".to_string(), "two.ome.tiff".to_string()];
    env.put(&rels[0], &REAL_MAIZE.path());
    env.put(&rels[1], &REAL_LARGEIMG.path());
    let raws = raws_of(&env, &[&rels[0], &rels[1]]);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let mut status_failures = Vec::new();
    let mut p = Problems::new();
    let names_dest = |e: &Value| {
        let err = error_text(e);
        err.contains(DEST_NAME) || err.contains(DEST_REL)
    };
    env.wait_status(
        "both files failing on the missing destination, with an error naming it",
        Duration::from_secs(30),
        &mut status_failures,
        |files| {
            rels.iter().all(|r| {
                let es = entries(files, r);
                !es.is_empty() && es.iter().all(|e| names_dest(e))
            })
        },
    );
    // A few seconds of retries (max_backoff 1s): never quarantined, never verified.
    let hold = Instant::now();
    let mut gone: Vec<String> = Vec::new();
    while hold.elapsed() < Duration::from_secs(5) {
        match env.try_status() {
            Ok(files) => {
                for f in &files {
                    let s = state_of(f);
                    if ["verified", "quarantined", "purged"].contains(&s) {
                        gone.push(format!(
                            "{}: state {s:?} while the destination is gone (error {:?})",
                            f.get("path").unwrap_or(&Value::Null),
                            error_text(f)
                        ));
                    }
                }
            }
            Err(r) => status_failures.push(r.to_string()),
        }
        if let Some(s) = agent.exited() {
            gone.push(format!(
                "the agent exited ({s}) while the destination was gone"
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if exists_at_all(&parent) {
        gone.push(format!(
            "the agent re-created the missing destination parent {}",
            parent.display()
        ));
    }
    if !gone.is_empty() {
        for g in gone {
            p.push(g);
        }
        env.finish(p);
        return;
    }

    // The NAS is back.
    fs::create_dir_all(&env.dest).expect("recreate the destination");
    let back = Instant::now();
    let files = env.wait_status(
        "both files verified once the destination is back",
        Duration::from_secs(40),
        &mut status_failures,
        |files| all_verified(files, &rels),
    );
    env.say(format!(
        "destination_vanishes_while_running: verified {:.1}s after the destination came back",
        back.elapsed().as_secs_f64()
    ));
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
    snap.check_unchanged(&mut p);
    report_status_failures(&mut p, &status_failures);
    env.finish(p);
});
