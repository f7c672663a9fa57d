//! What only a remote server can show: host keys, logins, an unreachable server, a full disk,
//! leftover temporaries. Each against a real OpenSSH sshd on 127.0.0.1.

#![cfg(unix)]

mod support;

use std::fs;
use std::time::Duration;

use scopeflow_sftp::SftpDestination;
use scopeflow_testkit::{Sshd, SshdOptions as Options, Tmpfs, files_under, keygen};
use scopeflow_transfer::conformance;
use scopeflow_transfer::{Destination, RelPath, TransferError};
use support::SftpSshd;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

/// A refused put: `Invalid` (not retried), naming `needles`, and nothing written.
async fn assert_refused(sshd: &Sshd, dest: &SftpDestination, needles: &[&str]) -> String {
    let src = sshd.scratch.join("a.bin");
    fs::write(&src, b"raw").unwrap();
    let err = dest.put(&src, &rel("raw/a.bin")).await.unwrap_err();
    assert!(matches!(err, TransferError::Invalid { .. }), "{err:?}");
    assert!(!err.is_transient(), "{err}");
    let text = err.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{text:?} does not name {needle:?}");
    }
    assert!(
        files_under(&sshd.served).is_empty(),
        "a refused put wrote {:?}",
        files_under(&sshd.served)
    );
    text
}

#[tokio::test]
async fn a_changed_host_key_is_refused() {
    let Some(sshd) = Sshd::start() else { return };
    let other = keygen(&sshd.dir.path().join("impostor"));
    let key = other
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    fs::write(
        &sshd.known_hosts,
        format!("[127.0.0.1]:{} {key}\n", sshd.port),
    )
    .unwrap();
    let kh = sshd.known_hosts.display().to_string();
    let text = assert_refused(
        &sshd,
        &sshd.destination("meso"),
        &["127.0.0.1", &kh, "DIFFERS", "line 1"],
    )
    .await;
    assert!(text.contains(&sshd.port.to_string()), "{text}");
}

#[tokio::test]
async fn an_unknown_host_is_refused() {
    let Some(sshd) = Sshd::start() else { return };
    // The key is known, but for another port: that is another host to ssh.
    let listed = fs::read_to_string(&sshd.known_hosts).unwrap();
    fs::write(
        &sshd.known_hosts,
        listed.replace(&format!("]:{}", sshd.port), "]:1"),
    )
    .unwrap();
    let kh = sshd.known_hosts.display().to_string();
    assert_refused(
        &sshd,
        &sshd.destination("meso"),
        &["127.0.0.1", &kh, "not in"],
    )
    .await;
    fs::write(&sshd.known_hosts, "").unwrap();
    assert_refused(
        &sshd,
        &sshd.destination("meso"),
        &["127.0.0.1", &kh, "unknown host"],
    )
    .await;
    fs::remove_file(&sshd.known_hosts).unwrap();
    assert_refused(&sshd, &sshd.destination("meso"), &[&kh, "known_hosts"]).await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_clearly() {
    let Some(sshd) = Sshd::start() else { return };
    let stranger = sshd.dir.path().join("stranger");
    keygen(&stranger);
    let mut cfg = sshd.config("meso");
    cfg.identity = Some(stranger.clone());
    let text = assert_refused(
        &sshd,
        &SftpDestination::new(cfg),
        &[
            "authentication refused",
            &sshd.user,
            &stranger.display().to_string(),
            "127.0.0.1",
        ],
    )
    .await;
    assert!(text.contains("publickey"), "{text}");
    let mut cfg = sshd.config("meso");
    cfg.identity = Some(sshd.dir.path().join("no-such-key"));
    assert_refused(
        &sshd,
        &SftpDestination::new(cfg),
        &["no-such-key", "private key"],
    )
    .await;
}

/// Password login: a wrong password is refused, and the password shows nowhere. (A right one
/// would need a password on a system account, which a test must not set.)
#[tokio::test]
async fn a_wrong_password_is_refused_and_never_shown() {
    let Some(sshd) = Sshd::start_with(Options {
        password_auth: true,
        ..Options::default()
    }) else {
        return;
    };
    let secret = "Wr0ng-s3cret-pw";
    let mut cfg = sshd.config("meso");
    cfg.identity = None;
    cfg.password = Some(secret.into());
    assert!(!format!("{cfg:?}").contains(secret));
    let text = assert_refused(
        &sshd,
        &SftpDestination::new(cfg),
        &["authentication refused", "the password"],
    )
    .await;
    assert!(!text.contains(secret), "{text}");
}

#[tokio::test]
async fn no_server_is_unreachable_and_transient() {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    sshd.kill();
    let dest = sshd.destination("meso");
    let (src, a) = conformance::unreachable_is_transient(&dest, &sshd.scratch, &[]).await;
    // The same destination works once the server is back: connections are made per call.
    sshd.restart();
    dest.put(&src, &a).await.unwrap();
}

#[tokio::test]
async fn the_root_is_made_only_inside_an_existing_folder() {
    let Some(sshd) = Sshd::start() else { return };
    let mut cfg = sshd.config("meso");
    cfg.root = sshd
        .served
        .join("not-mounted")
        .join("scopeflow")
        .display()
        .to_string();
    let src = sshd.scratch.join("a.bin");
    fs::write(&src, b"raw").unwrap();
    let err = SftpDestination::new(cfg)
        .put(&src, &rel("raw/a.bin"))
        .await
        .unwrap_err();
    assert!(matches!(err, TransferError::Unreachable { .. }), "{err:?}");
    assert!(files_under(&sshd.served).is_empty());
}

#[tokio::test]
async fn clean_temporaries_keeps_young_ones_and_removes_only_ours() {
    let Some(sshd) = Sshd::start() else { return };
    let dest = sshd.destination("meso");
    let src = sshd.scratch.join("a.bin");
    fs::write(&src, b"raw").unwrap();
    dest.put(&src, &rel("raw/a.bin")).await.unwrap();
    let raw = sshd.root.join("raw");
    fs::write(
        raw.join(".b.bin.scopeflow-tmp-0123456789abcdef"),
        b"partial",
    )
    .unwrap();
    let zarr_tmp = raw.join(".x.ome.zarr.scopeflow-tmp-0123456789abcdef");
    fs::create_dir_all(zarr_tmp.join("0").join("c")).unwrap();
    fs::write(zarr_tmp.join("0").join("c").join("0"), b"chunk").unwrap();
    fs::write(raw.join(".hidden"), b"keep").unwrap();
    fs::write(raw.join("notes.scopeflow-tmp-1"), b"keep").unwrap();

    assert_eq!(
        dest.clean_temporaries().await.unwrap(),
        0,
        "young temporaries are kept for resuming"
    );
    assert_eq!(
        dest.clean_temporaries_older_than(Duration::ZERO)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        files_under(&sshd.root),
        vec!["raw/.hidden", "raw/a.bin", "raw/notes.scopeflow-tmp-1"]
    );
}

/// A full disk gives `Full` (retry later), publishes nothing and leaves no temporary, for a
/// file, a folder and a manifest append. sshd serves a 2 MiB tmpfs, which takes `mount`
/// (root); where that is not allowed the test says so and passes, unless
/// SCOPEFLOW_REQUIRE_MOUNT=1.
#[tokio::test]
async fn a_full_disk_is_full_and_leaves_nothing_behind() {
    let mounted = std::sync::Arc::new(std::sync::Mutex::new(None));
    let m = std::sync::Arc::clone(&mounted);
    let Some(sshd) = Sshd::start_with(Options {
        prepare: Some(Box::new(move |served| {
            *m.lock().unwrap() = Tmpfs::mount(served, "2m");
        })),
        ..Options::default()
    }) else {
        return;
    };
    let _mounted = mounted.lock().unwrap().take();
    if _mounted.is_none() {
        assert!(
            std::env::var_os("SCOPEFLOW_REQUIRE_MOUNT").is_none(),
            "cannot mount a tmpfs"
        );
        eprintln!(
            "SKIPPED a_full_disk_is_full_and_leaves_nothing_behind: cannot mount a tmpfs here"
        );
        return;
    }
    let dest = sshd.destination("small");
    conformance::full_storage_is_transient(&conformance::FullStorage {
        dest: &dest,
        scratch: &sshd.scratch,
        mount: &sshd.served,
        root: &sshd.root,
        says_full: true,
        leaves_nothing: true,
    })
    .await;
}
