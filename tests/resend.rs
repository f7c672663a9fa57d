//! A copy damaged at the destination after it was verified: the retention robot finds it at
//! purge time, keeps the raw file and marks the copy invalid; the agent then sets the damaged
//! copy aside and sends it again; the next retention run purges. Real binary, real files.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::*;

const LATER: &str = "2030-01-01T00:00:00Z";

fn sha256_of(path: &Path) -> String {
    let mut h = Sha256::new();
    h.update(fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())));
    hex::encode(h.finalize())
}

fn flip_byte(path: &Path, offset: u64) {
    let mut perms = fs::metadata(path).expect("stat").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(path, perms).expect("make writable");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open the copy");
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[!b[0]]).unwrap();
}

fn status_of(cfg: &Path, rel: &str) -> Value {
    let all = scopeflow(args!["status", "--config", cfg, "--json"])
        .success()
        .stdout_json();
    all["files"]
        .as_array()
        .and_then(|a| a.iter().rev().find(|f| f["path"] == rel).cloned())
        .unwrap_or_else(|| panic!("{rel} not in status: {all:#}"))
}

sftest!(a_damaged_copy_is_found_kept_and_sent_again, |dir: Dir| {
    dir.mkdir("acquisitions/day1");
    dir.mkdir("nas");
    let cfg = dir.create(
        "pipeline.yaml",
        "version: 1\nname: resend\nwatch:\n  - path: acquisitions\n    settle: 1s\n\
         state: state/journal.db\ndestinations:\n  - name: nas\n    kind: local\n    path: nas/resend\n\
         retention:\n  purge_after: 1d\n",
    );
    let raw = dir.join("acquisitions/day1/a.tif");
    fs::copy(SYNTH_A.path(), &raw).expect("copy sample");
    let original = sha256_of(&raw);
    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();
    assert_eq!(status_of(&cfg, "day1/a.tif")["state"], "verified");

    let copy = dir.join("nas/resend/raw/day1/a.tif");
    flip_byte(&copy, 1000);
    let plan = scopeflow(args![
        "retention",
        "run",
        "--config",
        &cfg,
        "--now",
        LATER,
        "--json"
    ])
    .success();
    assert!(raw.exists(), "the raw file must be kept\n{plan}");
    let st = status_of(&cfg, "day1/a.tif");
    assert_eq!(st["state"], "processed", "sent again by the agent: {st:#}");
    assert_eq!(st["copies"][0]["state"], "invalid", "{st:#}");

    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();
    let st = status_of(&cfg, "day1/a.tif");
    assert_eq!(st["state"], "verified", "{st:#}");
    assert_eq!(sha256_of(&copy), original, "the copy was sent again");
    let aside: Vec<_> = fs::read_dir(dir.join("nas/resend/raw/day1"))
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("a.tif.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged copy is kept aside: {aside:?}");
    assert_ne!(
        sha256_of(&dir.join("nas/resend/raw/day1").join(&aside[0])),
        original
    );
    let check = Command::new("sha256sum")
        .args(["--quiet", "-c", "manifest-sha256.txt"])
        .current_dir(dir.join("nas/resend"))
        .output()
        .expect("run sha256sum");
    assert!(
        check.status.success(),
        "sha256sum -c: {}",
        String::from_utf8_lossy(&check.stdout)
    );

    scopeflow(args!["retention", "run", "--config", &cfg, "--now", LATER]).success();
    assert!(!raw.exists(), "purged once the copy verifies again");
    assert_eq!(status_of(&cfg, "day1/a.tif")["state"], "purged");
});
