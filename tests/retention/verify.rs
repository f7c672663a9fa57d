//! `retention plan --verify`: the dry run that checks as `run` does. A damaged copy and a
//! local file changed under the same size and mtime show up only with `--verify`, nothing is
//! marked, purged or audited by it, and `run` then decides exactly as it said.

use serde_json::Value;

use super::keep::flip_byte;
use super::world::*;
use crate::util::*;

fn plan_verify(w: &World) -> Value {
    let r = scopeflow(args![
        "retention",
        "plan",
        "--config",
        w.cfg,
        "--json",
        "--now",
        LATER,
        "--verify"
    ])
    .success();
    w.note(format!("==== retention plan --verify ====\n{r}"));
    r.stdout_json()
}

sftest!(plan_verify_shows_what_only_run_would_find, |dir: Dir| {
    let w = World::new(dir, &["nas"], &[]);
    let a = w.put("a.tif", &small(0));
    let b = w.put("b.tif", &small(1));
    let c = w.put("c.tif", &small(2));
    w.agent();
    flip_byte(&w.dir.join("nas/nas/raw/a.tif"), false);
    flip_byte(&c, true);

    // The default plan trusts the journal, and says so.
    let fast = w.plan(LATER);
    w.check(fast["checks"] == "journal", || format!("plan: {fast}"));
    w.check(paths(&fast, "purge") == ["a.tif", "b.tif", "c.tif"], || {
        format!("the journal-only plan should list all three: {fast}")
    });

    let checked = plan_verify(&w);
    w.check(checked["checks"] == "verified", || format!("{checked}"));
    w.check(paths(&checked, "purge") == ["b.tif"], || {
        format!("only b.tif survives the checks: {checked}")
    });
    let why_a = reason(&checked, "keep", "a.tif").unwrap_or_default();
    w.check(
        why_a.starts_with("checksum mismatch") && why_a.contains("nas") && why_a.contains("would"),
        || format!("a.tif: {why_a:?}"),
    );
    let why_c = reason(&checked, "keep", "c.tif").unwrap_or_default();
    w.check(why_c.starts_with("modified"), || {
        format!("c.tif: {why_c:?}")
    });
    let why_b = reason(&checked, "purge", "b.tif").unwrap_or_default();
    w.check(why_b.contains("re-verified now at nas"), || {
        format!("b.tif: {why_b:?}")
    });

    // A dry run: nothing purged, marked or audited.
    w.check(a.is_file() && b.is_file() && c.is_file(), || {
        "a raw file is gone".into()
    });
    w.check(w.state("a.tif") == "verified", || {
        format!("plan --verify changed a.tif: {}", w.current("a.tif"))
    });
    w.check(w.audit().is_empty(), || {
        "plan --verify wrote to the audit".into()
    });

    // `run` decides exactly as the verified plan said.
    let run = w.run(LATER);
    w.check(paths(&run, "purge") == paths(&checked, "purge"), || {
        format!(
            "run purged {:?}, plan --verify said {:?}",
            paths(&run, "purge"),
            paths(&checked, "purge")
        )
    });
    w.check(paths(&run, "keep") == paths(&checked, "keep"), || {
        format!(
            "run kept {:?}, plan --verify said {:?}",
            paths(&run, "keep"),
            paths(&checked, "keep")
        )
    });
    w.check(!b.exists() && a.is_file() && c.is_file(), || {
        "run purged other files".into()
    });
});
