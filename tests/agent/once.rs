//! `agent --once` on three real files, then on thirty files in one run.

use std::time::Duration;

use super::expect::*;
use super::world::*;
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// 2. --once on three real files
// ---------------------------------------------------------------------------------------------

sftest!(once_basic, |dir: Dir| {
    let env = Env::new(
        dir,
        &Pipeline::new("1s").top("steps: [metadata, qc, {convert: {chunk_yx: 256}}]"),
    );
    let rels = [
        REAL_AICS_OME.file.to_string(),
        format!("plate/{}", REAL_BBBC022.file),
        REAL_NIKON.file.to_string(),
    ];
    env.put(&rels[0], &REAL_AICS_OME.path());
    env.put(&rels[1], &REAL_BBBC022.path());
    env.put(&rels[2], &REAL_NIKON.path());
    let rel_refs: Vec<&str> = rels.iter().map(String::as_str).collect();
    let raws = raws_of(&env, &rel_refs);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());

    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    let zarr = env
        .dest
        .join("ome-zarr")
        .join(format!("{}.ome.zarr", split_ext(&rels[0]).0));
    if zarr.is_dir()
        && let Err(v) = validate_run(&zarr, &raws[0].1, None)
    {
        p.push(format!(
            "validate_omezarr.py rejects {}:\n{v}",
            zarr.display()
        ));
    }
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);

    // A second run finds nothing new: no new version, the destination untouched.
    let before = tree_hashes(&env.dest);
    let r = env.once(ONCE_LIMIT);
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("second agent --once: exit {:?}, expected 0", r.code())
    });
    let again = env.status();
    p.check(again == files, || {
        "the status changed after a second --once with nothing new".into()
    });
    let after = tree_hashes(&env.dest);
    p.check(before == after, || {
        "the destination changed after a second --once with nothing new".into()
    });
    snap.check_unchanged(&mut p);
    env.finish(p);
});

// ---------------------------------------------------------------------------------------------
// 3. thirty files in one run
// ---------------------------------------------------------------------------------------------

sftest!(thirty_files, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s").top("workers: 2"));
    let raws = put_many(&env, 30);
    let snap = RawSnapshot::take(&raws.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    let r = env.once(Duration::from_secs(300));
    let mut p = Problems::new();
    p.check(r.code() == Some(0), || {
        format!("agent --once: exit {:?}, expected 0", r.code())
    });
    let files = env.status();
    check_status_v1(&mut p, &files, &raws);
    check_destination(&mut p, &env.dest, &expected_v1(&raws));
    check_manifest(&mut p, &env.dest);
    check_no_tmp(&mut p, env.dir.path(), "the test folder");
    snap.check_unchanged(&mut p);
    env.finish(p);
});
