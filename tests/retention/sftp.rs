//! The robot against a real SFTP server (OpenSSH on 127.0.0.1): the agent delivers to a local
//! NAS and to SFTP, then the robot re-verifies over SFTP before purging; a copy damaged on the
//! server and a server that is down both keep the file.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;

use super::world::*;
use scopeflow_testkit::Sshd;

sftest!(sftp_copies_are_reverified_before_a_purge, |dir: Dir| {
    let Some(mut sshd) = Sshd::start() else {
        return;
    };
    let remote = dir.mkdir("served").join("scopeflow");
    let yaml = format!(
        "version: 1\nname: retention-sftp\nwatch:\n  - path: acq\n    settle: 1s\n\
         state: .scopeflow/state.db\nsteps: [metadata]\ndestinations:\n  \
         - name: nas\n    kind: local\n    path: nas/nas\n  \
         - name: meso\n    kind: sftp\n    url: sftp://{}@127.0.0.1:{}{}\n    \
         identity: {}\n    known_hosts: {}\n",
        sshd.user,
        sshd.port,
        remote.display(),
        sshd.user_key.display(),
        sshd.known_hosts.display(),
    );
    dir.mkdir("nas/nas");
    let w = World::with_yaml(dir, &yaml);
    let files = ["a.tif", "b.tif", "c.tif"];
    let locals: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, f)| w.put(f, &small(i)))
        .collect();
    w.agent();
    for f in files {
        let st = w.current(f);
        let at = |d: &str| {
            st["copies"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["destination"] == d && c["state"] == "verified")
        };
        w.check(st["state"] == "verified" && at("meso") && at("nas"), || {
            format!("{f} verified at both: {st}")
        });
    }
    // Damage b's copy on the server, keeping its size.
    let b_copy = remote.join("raw/b.tif");
    fs::set_permissions(&b_copy, fs::Permissions::from_mode(0o644)).unwrap();
    let mut fh = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&b_copy)
        .unwrap();
    let mut byte = [0u8; 1];
    fh.seek(SeekFrom::Start(100))
        .and_then(|_| fh.read_exact(&mut byte))
        .unwrap();
    byte[0] ^= 0xff;
    fh.seek(SeekFrom::Start(100))
        .and_then(|_| fh.write_all(&byte))
        .unwrap();
    drop(fh);

    // Server down: nothing can be re-verified there, everything stays.
    sshd.kill();
    let run = w.run(LATER);
    for f in files {
        let why = reason(&run, "keep", f).unwrap_or_default();
        w.check(
            why.starts_with("destination unreachable") && why.contains("meso"),
            || format!("{f}: {why:?}"),
        );
    }
    w.check(locals.iter().all(|p| p.is_file()), || {
        "all kept while the server is down".into()
    });

    sshd.launch();
    let run = w.run(LATER);
    w.check(paths(&run, "purge") == ["a.tif", "c.tif"], || {
        "a and c purged once the server is back".into()
    });
    let why = reason(&run, "keep", "b.tif").unwrap_or_default();
    w.check(
        why.starts_with("checksum mismatch") && why.contains("meso"),
        || format!("b: {why:?}"),
    );
    w.check(
        !locals[0].exists() && locals[1].is_file() && !locals[2].exists(),
        || "only b stays".into(),
    );
    let st = w.current("b.tif");
    let meso = st["copies"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["destination"] == "meso")
        .cloned();
    w.check(meso.is_some_and(|c| c["state"] == "invalid"), || {
        format!("b's SFTP copy marked invalid: {st}")
    });
    let audit = w.audit();
    let evidence = audit
        .iter()
        .find(|r| r["decision"] == "purged" && r["file"]["path"] == "a.tif")
        .map(|r| r["destinations"].clone())
        .unwrap_or_default();
    let verified: Vec<&str> = evidence
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["result"] == "verified")
        .filter_map(|d| d["destination"].as_str())
        .collect();
    w.check(
        verified == ["nas", "meso"] || verified == ["meso", "nas"],
        || format!("a's evidence {evidence}"),
    );
});
