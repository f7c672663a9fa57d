//! Destinations that only an operator can fix, against real servers started by the test
//! (OpenSSH, s3s-fs): an S3 store at an IP address without `path_style` works (path style is
//! chosen for it); a missing bucket, a bad S3 key, an unknown host key and a refused user key
//! quarantine the file after one attempt with the reason in `status --json`, and
//! `scopeflow retry` after the fix gets every copy delivered and checked by `sha256sum -c`.
//!
//! Unix only: sshd, `env` and `sha256sum`.

#![cfg(unix)]

use std::fs;
use std::path::{Path, PathBuf};

use scopeflow_testkit::{BUCKET, S3Server, Sshd, keygen};
use serde_json::Value;

use crate::destinations::{check_files_at, entry};
use crate::util::*;

const KEY_VAR: &str = "SCOPEFLOW_TEST_S3_ACCESS_KEY";
const SECRET_VAR: &str = "SCOPEFLOW_TEST_S3_SECRET_KEY";
const PREFIX: &str = "lab/confocal";
const FILE: (&str, Sample) = ("f.tif", SYNTH_F);

/// A test folder with `acq/f.tif`, a local destination `nas` and one remote one.
struct Bench {
    dir: Dir,
    cfg: PathBuf,
}

impl Bench {
    /// `remote`: the YAML list item of the remote destination (indented as a list item).
    fn new(dir: Dir, remote: &str) -> Bench {
        dir.mkdir("acq");
        dir.mkdir("nas");
        fs::copy(FILE.1.path(), dir.join("acq").join(FILE.0)).expect("copy the sample");
        let cfg = dir.create("pipeline.yaml", Bench::yaml(remote));
        Bench { dir, cfg }
    }

    fn yaml(remote: &str) -> String {
        format!(
            "version: 1\nname: permanent\nwatch:\n  - path: acq\n    settle: 1s\n\
             state: .scopeflow/state.db\nsteps: [metadata, qc, convert]\n\
             retry: {{max_attempts: 5, backoff: 0s, max_backoff: 1s}}\ndestinations:\n  \
             - name: nas\n    kind: local\n    path: nas/confocal\n{remote}"
        )
    }

    fn rewrite(&self, remote: &str) {
        fs::write(&self.cfg, Bench::yaml(remote)).expect("rewrite the pipeline");
    }

    /// `agent --once` with exactly these S3 variables in its environment.
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

    fn status(&self) -> Vec<Value> {
        let all = scopeflow(args!["status", "--config", &self.cfg, "--json"])
            .success()
            .stdout_json();
        all["files"].as_array().cloned().unwrap_or_default()
    }

    /// The file is quarantined after exactly one attempt, its error naming `dest` and one of
    /// `words`; only `nas` holds a verified copy.
    fn check_quarantined(&self, p: &mut Problems, dest: &str, words: &[&str]) {
        let files = self.status();
        let (e, verified) = entry(&files, FILE.0);
        p.check(e["state"] == "quarantined", || {
            format!("{}: expected quarantined at once: {e}", FILE.0)
        });
        p.check(e["attempts"] == 1, || {
            format!("{}: expected 1 attempt: {e}", FILE.0)
        });
        let err = e["error"].as_str().unwrap_or_default();
        p.check(
            err.contains(dest) && words.iter().any(|w| err.contains(w)),
            || {
                format!(
                    "{}: error {err:?} names not {dest} and one of {words:?}",
                    FILE.0
                )
            },
        );
        p.check(verified == ["nas"], || {
            format!(
                "{}: verified copies {verified:?}, expected only nas",
                FILE.0
            )
        });
    }

    /// `scopeflow retry --config F ARGS…` succeeds and names the file.
    fn retry(&self, p: &mut Problems, extra: Vec<std::ffi::OsString>) {
        let mut a = args!["retry", "--config", &self.cfg];
        a.extend(extra);
        let r = scopeflow(a).success();
        p.check(r.stdout.contains(FILE.0), || {
            format!("retry does not name {}: {r}", FILE.0)
        });
    }

    /// After the fix: verified at both destinations, each checked byte for byte.
    fn check_delivered(&self, p: &mut Problems, dest: &str, root: &Path) {
        let files = self.status();
        let (e, mut verified) = entry(&files, FILE.0);
        verified.sort();
        p.check(
            e["state"] == "verified" && verified == [dest, "nas"].map(String::from),
            || format!("{} after retry: {e}", FILE.0),
        );
        check_files_at(p, "nas", &self.dir.join("nas/confocal"), &[FILE]);
        check_files_at(p, dest, root, &[FILE]);
    }
}

/// An S3 destination item; `extra` lines go under it (e.g. `path_style: false`).
fn s3_item(s3: &S3Server, bucket: &str, extra: &str) -> String {
    format!(
        "  - name: cloud\n    kind: s3\n    bucket: {bucket}\n    prefix: {PREFIX}\n    \
         endpoint: {}\n    allow_http: true\n    access_key_env: {KEY_VAR}\n    \
         secret_key_env: {SECRET_VAR}\n{extra}",
        s3.endpoint()
    )
}

fn sftp_item(sshd: &Sshd, identity: &Path, known_hosts: &Path) -> String {
    format!(
        "  - name: meso\n    kind: sftp\n    url: sftp://{}@127.0.0.1:{}{}\n    \
         identity: {}\n    known_hosts: {}\n",
        sshd.user,
        sshd.port,
        sshd.root.display(),
        identity.display(),
        known_hosts.display()
    )
}

// The reproducer: an S3-compatible store at an IP address, no `path_style`.
sftest!(s3_at_an_ip_without_path_style_delivers, |dir: Dir| {
    let Some(s3) = S3Server::start() else {
        return;
    };
    let b = Bench::new(dir, &s3_item(&s3, BUCKET, ""));
    scopeflow(args!["pipeline", "check", &b.cfg]).success();
    let keys = [
        (KEY_VAR, s3.access_key.as_str()),
        (SECRET_VAR, &s3.secret_key),
    ];
    let r = b.agent(&keys).success();
    let mut p = Problems::new();
    b.check_delivered(&mut p, "cloud", &s3.prefix_dir(PREFIX));

    // Virtual-hosted style forced on an IP: `pipeline check` warns, the agent refuses to start
    // (exit 2, naming the destination and the key) instead of panicking.
    b.rewrite(&s3_item(&s3, BUCKET, "    path_style: false\n"));
    let check = scopeflow(args!["pipeline", "check", &b.cfg]).success();
    p.check(
        check.stderr.contains("warning") && check.stderr.contains("path_style"),
        || format!("pipeline check gives no path_style warning: {check}"),
    );
    let refused = b.agent(&keys).exit(2);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    p.check(
        said.contains("cloud") && said.contains("path_style"),
        || format!("the refusal names not the destination and path_style: {refused}"),
    );
    p.check(!said.contains("panicked"), || format!("a panic: {refused}"));
    p.finish(r);
});

sftest!(
    missing_bucket_then_bad_key_quarantine_at_once,
    |dir: Dir| {
        let Some(s3) = S3Server::start() else {
            return;
        };
        let b = Bench::new(dir, &s3_item(&s3, "not-created", ""));
        let keys = [
            (KEY_VAR, s3.access_key.as_str()),
            (SECRET_VAR, &s3.secret_key),
        ];
        let r = b.agent(&keys).exit(1);
        let mut p = Problems::new();
        b.check_quarantined(&mut p, "cloud", &["NoSuchBucket", "does not exist"]);
        p.finish(&r);

        // The bucket now exists, but the secret key is wrong: quarantined again, at once.
        fs::create_dir_all(s3.root.join("not-created")).expect("create the bucket");
        let mut p = Problems::new();
        b.retry(&mut p, args!["--all"]);
        let r = b
            .agent(&[
                (KEY_VAR, s3.access_key.as_str()),
                (SECRET_VAR, "wrong-secret"),
            ])
            .exit(1);
        b.check_quarantined(&mut p, "cloud", &["credentials", "SignatureDoesNotMatch"]);
        p.finish(&r);

        let mut p = Problems::new();
        b.retry(&mut p, args![FILE.0]);
        let r = b.agent(&keys).success();
        let mut bucket = s3.root.join("not-created");
        bucket.extend(PREFIX.split('/'));
        b.check_delivered(&mut p, "cloud", &bucket);
        p.finish(r);
    }
);

sftest!(
    wrong_host_key_then_user_key_quarantine_at_once,
    |dir: Dir| {
        let impostor = keygen(&dir.join("impostor_ed25519"));
        let impostor = impostor
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let stranger = dir.join("stranger_ed25519");
        keygen(&stranger);
        let Some(sshd) = Sshd::start() else {
            return;
        };
        let kh = dir.create(
            "known_hosts",
            format!("[127.0.0.1]:{} {impostor}\n", sshd.port),
        );
        let b = Bench::new(dir, &sftp_item(&sshd, &sshd.user_key, &kh));
        let r = b.agent(&[]).exit(1);
        let mut p = Problems::new();
        b.check_quarantined(&mut p, "meso", &["host key"]);
        p.finish(&r);

        // The right host key, but a user key the server does not accept.
        b.rewrite(&sftp_item(&sshd, &stranger, &sshd.known_hosts));
        let mut p = Problems::new();
        b.retry(&mut p, args![b.dir.join("acq").join(FILE.0)]);
        let r = b.agent(&[]).exit(1);
        b.check_quarantined(&mut p, "meso", &["authentication refused"]);
        p.finish(&r);

        b.rewrite(&sftp_item(&sshd, &sshd.user_key, &sshd.known_hosts));
        let mut p = Problems::new();
        b.retry(&mut p, args!["--all"]);
        let r = b.agent(&[]).success();
        b.check_delivered(&mut p, "meso", &sshd.root);
        p.finish(r);
    }
);

sftest!(retry_refuses_what_is_not_quarantined, |dir: Dir| {
    let b = Bench::new(dir, "");
    scopeflow(args!["retry", "--config", &b.cfg]).exit(2);
    let r = b.agent(&[]).success();
    let mut p = Problems::new();
    let again = scopeflow(args!["retry", "--config", &b.cfg, FILE.0]).exit(1);
    p.check(again.stderr.contains(FILE.0), || {
        format!("retry of a verified file does not name it: {again}")
    });
    p.finish(r);
});
