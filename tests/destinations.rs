//! The 3-2-1 rule end to end: the real agent delivers each file to a local folder, an OpenSSH
//! server and an S3 store (s3s-fs), all started on 127.0.0.1 by the test. Checked through
//! `status --json` and the bytes at each destination: `sha256sum -c manifest-sha256.txt` runs
//! in the SFTP root and in the bucket folder too, as s3s-fs keeps each object as a plain file
//! at `<root>/<bucket>/<key>`. Then one destination down, a missing secret, a wrong host key.
//!
//! Unix only: sshd, `env` and `sha256sum`.

#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use scopeflow_testkit::{BUCKET, S3Server, Sshd, files_under, keygen};
use serde_json::Value;

use crate::util::*;

const PREFIX: &str = "lab/confocal";
const KEY_VAR: &str = "SCOPEFLOW_TEST_S3_ACCESS_KEY";
const SECRET_VAR: &str = "SCOPEFLOW_TEST_S3_SECRET_KEY";
const NAMES: [&str; 3] = ["nas", "meso", "cloud"];
/// Two small images, one in a sub-folder, so that `REL` has a folder in it.
const FILES: [(&str, Sample); 2] = [("day1/a.tif", SYNTH_A), ("f.tif", SYNTH_F)];

struct Site {
    dir: Dir,
    cfg: PathBuf,
    sshd: Sshd,
    s3: S3Server,
}

impl Site {
    /// Both servers and the pipeline; `None` when a server is missing and its skip variable is set.
    fn start(dir: Dir, known_hosts: Option<&Path>) -> Option<Site> {
        let sshd = Sshd::start()?;
        let s3 = S3Server::start()?;
        dir.mkdir("acq/day1");
        dir.mkdir("nas");
        // An existing root, as on a real server: the agent would otherwise spend seconds
        // reconnecting at start-up (see `every_file_reaches_three_destinations`).
        fs::create_dir_all(&sshd.root).expect("sftp root");
        let yaml = format!(
            "version: 1\nname: three-two-one\nwatch:\n  - path: acq\n    settle: 1s\n\
             state: .scopeflow/state.db\nsteps: [metadata, qc, convert]\n\
             retry: {{max_attempts: 5, backoff: 0s, max_backoff: 1s}}\ndestinations:\n  \
             - name: nas\n    kind: local\n    path: nas/confocal\n  \
             - name: meso\n    kind: sftp\n    url: sftp://{user}@127.0.0.1:{port}{root}\n    \
             identity: {key}\n    known_hosts: {kh}\n  \
             - name: cloud\n    kind: s3\n    bucket: {BUCKET}\n    prefix: {PREFIX}\n    \
             endpoint: {endpoint}\n    allow_http: true\n    path_style: true\n    \
             access_key_env: {KEY_VAR}\n    secret_key_env: {SECRET_VAR}\n",
            user = sshd.user,
            port = sshd.port,
            root = sshd.root.display(),
            key = sshd.user_key.display(),
            kh = known_hosts.unwrap_or(&sshd.known_hosts).display(),
            endpoint = s3.endpoint(),
        );
        let cfg = dir.create("pipeline.yaml", yaml);
        scopeflow(args!["pipeline", "check", &cfg]).success();
        for (rel, sample) in FILES {
            fs::copy(sample.path(), dir.join("acq").join(rel)).expect("copy sample");
        }
        Some(Site { dir, cfg, sshd, s3 })
    }

    /// `agent --once` with the S3 variables set as given (and no other value of them).
    fn agent(&self, vars: &[(&str, &str)]) -> Run {
        let mut a = args!["-u", KEY_VAR, "-u", SECRET_VAR];
        a.extend(vars.iter().map(|(k, v)| format!("{k}={v}").into()));
        a.extend(args![
            scopeflow_bin(),
            "agent",
            "--config",
            &self.cfg,
            "--once"
        ]);
        run(Path::new("env"), a)
    }

    fn agent_with_keys(&self) -> Run {
        self.agent(&[
            (KEY_VAR, &self.s3.access_key),
            (SECRET_VAR, &self.s3.secret_key),
        ])
    }

    fn status(&self) -> Vec<Value> {
        let all = scopeflow(args!["status", "--config", &self.cfg, "--json"])
            .success()
            .stdout_json();
        all["files"].as_array().cloned().unwrap_or_default()
    }

    /// Where each destination's files lie on this machine's disk.
    fn root(&self, name: &str) -> PathBuf {
        match name {
            "nas" => self.dir.join("nas/confocal"),
            "meso" => self.sshd.root.clone(),
            _ => self.s3.prefix_dir(PREFIX),
        }
    }
}

/// The status entry of `rel`, and the destinations holding a verified copy of it.
pub(crate) fn entry<'a>(files: &'a [Value], rel: &str) -> (&'a Value, Vec<String>) {
    let e = files
        .iter()
        .rev()
        .find(|f| f["path"] == rel)
        .unwrap_or_else(|| panic!("{rel} not in status: {files:#?}"));
    let verified = e["copies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["verified_at"].as_str().is_some_and(|s| !s.is_empty()))
        .filter_map(|c| c["destination"].as_str().map(str::to_owned))
        .collect();
    (e, verified)
}

fn stem(rel: &str) -> &str {
    rel.strip_suffix(".tif").unwrap_or(rel)
}

/// `raw/REL` byte-identical, the OME-Zarr, its thumbnail and the QC JSON present, the manifest
/// checks and lists the thumbnail.
fn check_destination(p: &mut Problems, name: &str, root: &Path) {
    check_files_at(p, name, root, &FILES);
}

/// [`check_destination`] for any list of `(REL, sample)` sent to `root`.
pub(crate) fn check_files_at(p: &mut Problems, name: &str, root: &Path, files: &[(&str, Sample)]) {
    for &(rel, sample) in files {
        let raw = root.join("raw").join(rel);
        if !raw.is_file() {
            p.push(format!("{name}: raw/{rel} is missing"));
            continue;
        }
        let want = sha256_file(&sample.path());
        p.check(sha256_file(&raw) == want, || {
            format!("{name}: raw/{rel} differs")
        });
        let zarr = root.join(format!("ome-zarr/{}.ome.zarr/zarr.json", stem(rel)));
        p.check(zarr.is_file(), || {
            format!("{name}: {} missing", zarr.display())
        });
        let png = format!("qc/{}.png", stem(rel));
        p.check(
            fs::read(root.join(&png)).is_ok_and(|b| b.starts_with(b"\x89PNG")),
            || format!("{name}: {png} missing or not a PNG"),
        );
        p.check(
            fs::read_to_string(root.join("manifest-sha256.txt"))
                .is_ok_and(|m| m.lines().any(|l| l.ends_with(&format!("  {png}")))),
            || format!("{name}: {png} not in manifest-sha256.txt"),
        );
        let qc = root.join(format!("qc/{}.json", stem(rel)));
        match fs::read_to_string(&qc).map(|t| serde_json::from_str::<Value>(&t)) {
            Ok(Ok(doc)) => p.check(doc["sha256"] == want.as_str(), || {
                format!("{name}: qc/{}.json sha256 {}", stem(rel), doc["sha256"])
            }),
            other => p.push(format!("{name}: qc/{}.json: {other:?}", stem(rel))),
        }
    }
    let check = Command::new("sha256sum")
        .args(["--quiet", "-c", "manifest-sha256.txt"])
        .current_dir(root)
        .output()
        .expect("run sha256sum (coreutils)");
    p.check(check.status.success(), || {
        format!(
            "{name}: sha256sum -c manifest-sha256.txt in {}: {}{}",
            root.display(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        )
    });
}

/// How many manifest lines name `raw/REL` at a destination (one per copy sent).
fn manifest_lines(root: &Path, rel: &str) -> usize {
    let text = fs::read_to_string(root.join("manifest-sha256.txt")).unwrap_or_default();
    let needle = format!("raw/{rel}");
    text.lines()
        .filter(|l| l.split_once("  ").is_some_and(|(_, path)| path == needle))
        .count()
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

sftest!(every_file_reaches_three_destinations, |dir: Dir| {
    let Some(site) = Site::start(dir, None) else {
        return;
    };
    // A first delivery to a fresh server: the agent makes the root folder itself.
    fs::remove_dir(&site.sshd.root).expect("remove the sftp root");
    let r = site.agent_with_keys().success();
    let files = site.status();
    let mut p = Problems::new();
    for (rel, _) in FILES {
        let (e, verified) = entry(&files, rel);
        p.check(e["state"] == "verified", || format!("{rel}: {e}"));
        let mut got = verified.clone();
        got.sort();
        let mut want: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
        want.sort();
        p.check(got == want, || {
            format!("{rel}: verified copies {verified:?}")
        });
    }
    for name in NAMES {
        check_destination(&mut p, name, &site.root(name));
    }
    p.finish(r);
});

sftest!(a_destination_down_is_caught_up_later, |dir: Dir| {
    let Some(mut site) = Site::start(dir, None) else {
        return;
    };
    site.s3.kill();
    let r = site.agent_with_keys().exit(1);
    let files = site.status();
    let mut p = Problems::new();
    let mut stamps = Vec::new();
    for (rel, _) in FILES {
        let (e, verified) = entry(&files, rel);
        p.check(
            e["state"] != "verified" && e["state"] != "quarantined",
            || format!("{rel} with the store down: {e}"),
        );
        p.check(
            verified.len() == 2 && !verified.contains(&"cloud".into()),
            || format!("{rel}: verified copies {verified:?} with the store down"),
        );
        let mut listed = e["copies"].as_array().into_iter().flatten();
        p.check(!listed.any(|c| c["destination"] == "cloud"), || {
            format!("{rel}: a copy on the store that is down is listed: {e}")
        });
        for name in ["nas", "meso"] {
            stamps.push(modified(&site.root(name).join("raw").join(rel)));
        }
    }
    for name in ["nas", "meso"] {
        check_destination(&mut p, name, &site.root(name));
    }
    p.finish(&r);

    site.s3.run();
    let r = site.agent_with_keys().success();
    let files = site.status();
    let mut p = Problems::new();
    let mut again = Vec::new();
    for (rel, _) in FILES {
        let (e, verified) = entry(&files, rel);
        p.check(e["state"] == "verified" && verified.len() == 3, || {
            format!("{rel} once the store is back: {e}")
        });
        for name in NAMES {
            let n = manifest_lines(&site.root(name), rel);
            p.check(n == 1, || {
                format!("{name}: {n} manifest lines for raw/{rel}")
            });
        }
        for name in ["nas", "meso"] {
            again.push(modified(&site.root(name).join("raw").join(rel)));
        }
    }
    p.check(stamps == again, || {
        "raw copies on nas/meso were written again".into()
    });
    for name in NAMES {
        check_destination(&mut p, name, &site.root(name));
    }
    p.finish(r);
});

sftest!(a_missing_secret_stops_the_agent, |dir: Dir| {
    let Some(site) = Site::start(dir, None) else {
        return;
    };
    let r = site.agent(&[(KEY_VAR, &site.s3.access_key)]).exit(2);
    let said = format!("{}{}", r.stdout, r.stderr);
    let mut p = Problems::new();
    p.check(said.contains(SECRET_VAR), || {
        format!("the message does not name {SECRET_VAR}")
    });
    p.check(!said.contains(&site.s3.access_key), || {
        "the message shows the access key's value".into()
    });
    p.check(!site.root("nas").join("raw").exists(), || {
        "files were sent although the agent refused to start".into()
    });
    p.finish(r);
});

sftest!(a_wrong_host_key_fails_only_that_destination, |dir: Dir| {
    let impostor = dir.join("impostor_ed25519");
    let key = keygen(&impostor);
    let key = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    // The port is only known once sshd runs: the file is rewritten below, before the agent.
    let kh = dir.create("known_hosts", "");
    let Some(site) = Site::start(dir, Some(&kh)) else {
        return;
    };
    fs::write(&kh, format!("[127.0.0.1]:{} {key}\n", site.sshd.port)).expect("known_hosts");
    let r = site.agent_with_keys().exit(1);
    let files = site.status();
    let mut p = Problems::new();
    for (rel, _) in FILES {
        let (e, verified) = entry(&files, rel);
        let err = e["error"].as_str().unwrap_or_default().to_lowercase();
        p.check(err.contains("host key") && err.contains("meso"), || {
            format!("{rel}: error {err:?} should name meso and its host key")
        });
        p.check(
            ["failed", "quarantined"].contains(&e["state"].as_str().unwrap_or("")),
            || format!("{rel} should have failed: {e}"),
        );
        p.check(
            verified.len() == 2 && !verified.contains(&"meso".into()),
            || format!("{rel}: verified copies {verified:?} with a wrong host key"),
        );
    }
    for name in ["nas", "cloud"] {
        check_destination(&mut p, name, &site.root(name));
    }
    p.check(files_under(&site.sshd.served).is_empty(), || {
        "files reached the server whose host key was refused".into()
    });
    p.finish(r);
});
