//! `pipeline check` on a valid pipeline and on one with three problems.

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use super::world::*;
use crate::util::*;

// ---------------------------------------------------------------------------------------------
// 1. pipeline check
// ---------------------------------------------------------------------------------------------

const VALID_PIPELINE: &str = r#"version: 1
name: check-ok
watch:
  - path: acq
    include: ["**/*.tif", "**/*.tiff"]
    settle: 5s
    poll: true
    poll_interval: 1s
    rescan: 5m
state: .scopeflow/state.db
steps: [metadata, qc, {convert: {chunk_yx: 256}}]
retry: {max_attempts: 3, backoff: 0s, max_backoff: 1s}
protect_raw: false
workers: 2
destinations:
  - name: nas
    kind: local
    path: nas/confocal
retention:
  purge_after: 60d
  require_verified: [nas]
"#;

/// Three problems: bad duration (line 6), unknown key (line 9), undefined destination (line 16).
const BAD_PIPELINE: &str = r#"version: 1
name: check-bad
watch:
  - path: acq
    include: ["**/*.tif"]
    settle: 5 minutes
    poll: false
state: .scopeflow/state.db
colour: blue
destinations:
  - name: nas
    kind: local
    path: nas/confocal
retention:
  purge_after: 60d
  require_verified: [nas, tape]
"#;

sftest!(pipeline_check_valid, |dir: Dir| {
    dir.mkdir("acq");
    dir.mkdir("nas/confocal");
    let cfg = dir.create("pipeline.yaml", VALID_PIPELINE);
    let r = scopeflow(args!["pipeline", "check", cfg]).success();
    let want = format!("{}: ok", cfg.display());
    if !r.stdout.lines().any(|l| l.trim_end() == want) {
        panic!("stdout has no line `{want}`\n{r}");
    }
});

sftest!(pipeline_check_three_problems, |dir: Dir| {
    dir.mkdir("acq");
    dir.mkdir("nas/confocal");
    let cfg = dir.create("pipeline.yaml", BAD_PIPELINE);
    let r = scopeflow(args!["pipeline", "check", cfg]).exit(2);
    let mut p = Problems::new();
    let prefix = format!("{}:", cfg.display());
    let lines: Vec<&str> = r.stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    p.check(lines.len() == 3, || {
        format!("{} lines on stdout, expected 3", lines.len())
    });
    // (line, words of which one must be in the message)
    let want: [(u64, &[&str]); 3] = [
        (6, &["5 minutes", "duration"]),
        (9, &["colour"]),
        (16, &["tape"]),
    ];
    let mut seen = BTreeMap::new();
    for l in &lines {
        let Some(rest) = l.strip_prefix(&prefix) else {
            p.push(format!("line {l:?} does not start with `{prefix}`"));
            continue;
        };
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().and_then(|s| s.parse::<u64>().ok());
        let col = parts.next().and_then(|s| s.parse::<u64>().ok());
        let msg = parts.next().unwrap_or("").trim().to_lowercase();
        match (line, col) {
            (Some(line), Some(col)) if col >= 1 => {
                seen.insert(line, msg);
            }
            _ => p.push(format!("line {l:?} is not FILE:LINE:COL: message")),
        }
    }
    for (line, words) in want {
        match seen.get(&line) {
            Some(msg) => p.check(words.iter().any(|w| msg.contains(w)), || {
                format!("the message for line {line} ({msg:?}) mentions none of {words:?}")
            }),
            None => p.push(format!("no problem reported at line {line}")),
        }
    }
    let extra: Vec<u64> = seen
        .keys()
        .filter(|l| ![6, 9, 16].contains(*l))
        .copied()
        .collect();
    p.check(extra.is_empty(), || {
        format!("problems reported at unexpected lines {extra:?}")
    });
    p.finish(&r);
});

sftest!(missing_watch_folder_is_a_config_error, |dir: Dir| {
    let env = Env::new(dir, &Pipeline::new("1s"));
    fs::remove_dir(&env.watch).expect("remove the watch folder");
    let r = env.once(Duration::from_secs(60));
    let mut p = Problems::new();
    p.check(r.code() == Some(2), || {
        format!("exit {:?}, expected 2", r.code())
    });
    // The `- path: acq` of the watch entry is line 4.
    let want = format!("{}:4:", env.cfg.display());
    p.check(r.stdout.contains(&want) || r.stderr.contains(&want), || {
        format!("no `{want}COL: message` in the output")
    });
    p.check(!env.dest.join("raw").exists(), || {
        "the destination got files".into()
    });
    env.finish(p);
});
