//! The purge itself, plan versus run, the clock, the cap, trash mode and its expiry, and
//! files the journal does not know.

use std::fs;

use serde_json::Value;

use super::world::*;
use crate::util::*;

sftest!(plan_lists_and_run_purges_old_verified_files, |dir: Dir| {
    let w = World::new(dir, &["nas"], &["purge_after: 60d"]);
    let a = w.put("day1/a.tif", &small(0));
    let b = w.put("b.ome.tiff", &small(1));
    let (sha_a, sha_b) = (sha256_file(&a), sha256_file(&b));
    w.agent();
    // Leftover work folders of the two files (ids 1 and 2), and one of no file at all.
    for id in ["1", "2", "999"] {
        w.dir.mkdir(
            std::path::Path::new(".scopeflow")
                .join("work")
                .join(id)
                .join("image.ome.zarr"),
        );
    }

    // The system clock: both were ingested seconds ago.
    let young = w.plan("");
    w.check(
        paths(&young, "keep") == ["b.ome.tiff", "day1/a.tif"],
        || "both kept now".into(),
    );
    let why = reason(&young, "keep", "day1/a.tif").unwrap_or_default();
    w.check(why.starts_with("too young"), || format!("reason {why:?}"));

    // Years later: both eligible; the plan touches nothing.
    let plan = w.plan(LATER);
    w.check(
        paths(&plan, "purge") == ["b.ome.tiff", "day1/a.tif"] && paths(&plan, "keep").is_empty(),
        || "plan purges both".into(),
    );
    let why = reason(&plan, "purge", "b.ome.tiff").unwrap_or_default();
    w.check(why.contains("re-verifies"), || {
        format!("the plan says run re-verifies: {why:?}")
    });
    w.check(a.is_file() && b.is_file(), || "plan must not delete".into());
    w.check(!w.state_dir.join("retention-audit.jsonl").exists(), || {
        "plan must not audit".into()
    });

    let run = w.run(LATER);
    w.check(paths(&run, "purge") == ["b.ome.tiff", "day1/a.tif"], || {
        "run purges both".into()
    });
    w.check(!exists_at_all(&a) && !exists_at_all(&b), || {
        "raw files deleted".into()
    });
    for (rel, sha) in [("day1/a.tif", &sha_a), ("b.ome.tiff", &sha_b)] {
        w.check(w.state(rel) == "purged", || {
            format!("{rel} purged in status")
        });
        let copy = w.dir.join("nas/nas/raw").join(rel);
        w.check(sha256_file(&copy) == *sha, || {
            format!("the copy of {rel} is intact")
        });
    }
    let work = w.state_dir.join("work");
    w.check(list_dir(&work) == ["999"], || {
        format!("work folders left: {:?}", list_dir(&work))
    });

    let audit = w.audit();
    w.check(audit.len() == 2, || "one audit record per purge".into());
    for r in &audit {
        let sha = if r["file"]["path"] == "day1/a.tif" {
            &sha_a
        } else {
            &sha_b
        };
        let d = &r["destinations"][0];
        let ok = r["decision"] == "purged"
            && r["file"]["sha256"] == sha.as_str()
            && r["age_s"].as_u64().is_some_and(|s| s > 60 * 86_400)
            && r["host"].as_str().is_some_and(|h| !h.is_empty())
            && r["at"] == "2030-01-01T00:00:00.000Z"
            && d["destination"] == "nas"
            && d["result"] == "verified"
            && d["sha256"] == sha.as_str()
            && d["verified_at"].as_str().is_some();
        w.check(ok, || format!("audit record {r}"));
    }
    // Nothing left to decide: purged files are not listed again.
    let again = w.run(LATER);
    w.check(
        paths(&again, "purge").is_empty() && paths(&again, "keep").is_empty(),
        || "second run idle".into(),
    );
    w.check(w.audit().len() == 2, || "nothing new audited".into());
});

sftest!(too_young_files_are_kept, |dir: Dir| {
    let w = World::new(dir, &["nas"], &["purge_after: 36500d"]);
    let a = w.put("a.tif", &small(0));
    w.agent();
    let run = w.run(LATER);
    let why = reason(&run, "keep", "a.tif").unwrap_or_default();
    w.check(
        why.starts_with("too young") && why.contains("36500d"),
        || format!("reason {why:?}"),
    );
    w.check(a.is_file() && w.state("a.tif") == "verified", || {
        "kept and still verified".into()
    });
    let audit = w.audit();
    w.check(audit.len() == 1 && audit[0]["code"] == "too_young", || {
        "one kept record".into()
    });
    // The same decision again is not audited twice.
    w.run(LATER);
    w.check(w.audit().len() == 1, || {
        "a repeated decision is audited once".into()
    });
});

sftest!(bad_now_bad_config_and_no_journal, |dir: Dir| {
    let w = World::new(dir, &["nas"], &[]);
    // No journal yet: empty lists, exit 0, and no journal created.
    let run = w.run(LATER);
    w.check(run == serde_json::json!({"purge": [], "keep": []}), || {
        format!("{run}")
    });
    w.check(!w.state_dir.join("state.db").exists(), || {
        "no journal may be created".into()
    });
    for cmd in ["plan", "run"] {
        let r = scopeflow(args![
            "retention",
            cmd,
            "--config",
            w.cfg,
            "--now",
            "yesterday"
        ])
        .exit(2);
        w.check(r.stderr.contains("--now"), || format!("{r}"));
    }
    let bad = w.dir.create(
        "bad.yaml",
        fs::read_to_string(&w.cfg).unwrap() + "retention:\n  mode: shred\n",
    );
    let r = scopeflow(args!["retention", "run", "--config", bad]).exit(2);
    w.check(r.stdout.contains("retention.mode"), || format!("{r}"));
});

sftest!(
    files_unknown_to_the_journal_are_never_touched,
    |dir: Dir| {
        let w = World::new(dir, &["nas"], &[]);
        let known = w.put("a.tif", &small(0));
        w.agent();
        let late = w.put("late.tif", &small(1));
        let other = w.dir.create("acq/notes.txt", "not an image");
        let before: Vec<String> = [&late, &other].iter().map(|p| sha256_file(p)).collect();
        let run = w.run(LATER);
        w.check(paths(&run, "purge") == ["a.tif"] && !known.exists(), || {
            "the known file is purged".into()
        });
        w.check(reason(&run, "keep", "late.tif").is_none(), || {
            "unknown files are not even listed".into()
        });
        let after: Vec<String> = [&late, &other].iter().map(|p| sha256_file(p)).collect();
        w.check(before == after, || "unknown files untouched".into());
    }
);

sftest!(max_per_run_caps_each_run, |dir: Dir| {
    let w = World::new(dir, &["nas"], &["max_per_run: 1"]);
    for i in 0..3 {
        w.put(&format!("f{i}.tif"), &small(i));
    }
    w.agent();
    let plan = w.plan(LATER);
    w.check(
        paths(&plan, "purge").len() == 1 && paths(&plan, "keep").len() == 2,
        || "plan capped".into(),
    );
    for round in 1..=3 {
        let run = w.run(LATER);
        let kept = paths(&run, "keep");
        w.check(
            paths(&run, "purge").len() == 1 && kept.len() == 3 - round,
            || format!("round {round}"),
        );
        for k in &kept {
            let why = reason(&run, "keep", k).unwrap_or_default();
            w.check(why.starts_with("max_per_run"), || format!("reason {why:?}"));
        }
    }
    let purged = w.status().iter().filter(|f| f["state"] == "purged").count();
    w.check(purged == 3, || "all purged after three runs".into());
});

sftest!(
    trash_mode_moves_then_deletes_after_trash_keep,
    |dir: Dir| {
        let w = World::new(
            dir,
            &["nas"],
            &["mode: trash", "trash_path: trash", "trash_keep: 30d"],
        );
        // Raw files made read-only by the agent are purged all the same.
        let yaml = fs::read_to_string(&w.cfg).unwrap() + "protect_raw: true\n";
        fs::write(&w.cfg, yaml).unwrap();
        let a = w.put("day1/a.tif", &small(0));
        let sha = sha256_file(&a);
        w.agent();
        w.check(fs::metadata(&a).unwrap().permissions().readonly(), || {
            "protect_raw made it read-only".into()
        });
        w.dir.mkdir("trash");
        let foreign = w.dir.create("trash/foreign.tif", "put here by someone");

        let run = w.run(LATER);
        let why = reason(&run, "purge", "day1/a.tif").unwrap_or_default();
        w.check(why.contains("moved to"), || format!("reason {why:?}"));
        let in_trash = w.dir.join("trash/day1/a.tif");
        w.check(!exists_at_all(&a) && sha256_file(&in_trash) == sha, || {
            "moved to the trash, same bytes".into()
        });
        w.check(w.state("day1/a.tif") == "purged", || {
            "purged in status".into()
        });

        w.run("2030-01-20T00:00:00Z");
        w.check(in_trash.is_file(), || {
            "still in the trash before trash_keep".into()
        });
        w.run(LATER_40D);
        w.check(!exists_at_all(&in_trash), || {
            "deleted from the trash after trash_keep".into()
        });
        w.check(foreign.is_file(), || {
            "files the robot did not put in the trash stay".into()
        });
        let audit: Vec<Value> = w.audit();
        let decisions: Vec<&str> = audit
            .iter()
            .filter_map(|r| r["decision"].as_str())
            .collect();
        w.check(decisions == ["trashed", "expired"], || {
            format!("audit decisions {decisions:?}")
        });
    }
);
