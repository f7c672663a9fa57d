//! Every reason to keep a file that only shows at purge time: a damaged copy, an unreachable
//! destination, too few copies verified now, a file changed since ingest.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::world::*;
use crate::util::*;

/// Flips one byte in the middle of `path`, keeping its size (and, with `keep_mtime`, its mtime).
pub(super) fn flip_byte(path: &Path, keep_mtime: bool) {
    let mtime = fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("make writable");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    let mid = f.metadata().expect("size").len() / 2;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(mid))
        .and_then(|_| f.read_exact(&mut b))
        .expect("read");
    b[0] ^= 0xff;
    f.seek(SeekFrom::Start(mid))
        .and_then(|_| f.write_all(&b))
        .expect("write");
    if keep_mtime {
        f.set_modified(mtime).expect("restore mtime");
    }
}

sftest!(corrupted_copy_is_kept_and_marked_invalid, |dir: Dir| {
    let w = World::new(dir, &["nas"], &[]);
    let a = w.put("a.tif", &small(0));
    w.agent();
    flip_byte(&w.dir.join("nas/nas/raw/a.tif"), false);
    let (r, run) = w.robot("run", LATER);
    let why = reason(&run, "keep", "a.tif").unwrap_or_default();
    w.check(
        why.starts_with("checksum mismatch") && why.contains("nas"),
        || format!("reason {why:?}"),
    );
    w.check(a.is_file(), || "the raw file stays".into());
    w.check(
        r.stderr.contains("ERROR") && r.stderr.contains("ALARM"),
        || "an error-level alarm".into(),
    );
    let st = w.current("a.tif");
    let copy = &st["copies"][0];
    w.check(
        copy["state"] == "invalid" && st["state"] == "processed",
        || format!("status {st}"),
    );
    let audit = w.audit();
    let ok = audit.len() == 1
        && audit[0]["decision"] == "kept"
        && audit[0]["code"] == "checksum_mismatch"
        && audit[0]["destinations"][0]["result"] == "mismatch";
    w.check(ok, || "audited with the evidence".into());
    // Not verified any more: the next run keeps it for that reason.
    let again = w.run(LATER);
    let why = reason(&again, "keep", "a.tif").unwrap_or_default();
    w.check(why.starts_with("not verified"), || {
        format!("reason {why:?}")
    });
});

sftest!(
    unreachable_destination_keeps_until_it_is_back,
    |dir: Dir| {
        let w = World::new(dir, &["nas"], &[]);
        let a = w.put("a.tif", &small(0));
        w.agent();
        let (root, away) = (w.dir.join("nas/nas"), w.dir.join("nas/away"));
        fs::rename(&root, &away).unwrap();
        let run = w.run(LATER);
        let why = reason(&run, "keep", "a.tif").unwrap_or_default();
        w.check(
            why.starts_with("destination unreachable") && why.contains("nas"),
            || format!("reason {why:?}"),
        );
        w.check(a.is_file() && w.state("a.tif") == "verified", || {
            "kept, nothing recorded".into()
        });
        fs::rename(&away, &root).unwrap();
        let run = w.run(LATER);
        w.check(paths(&run, "purge") == ["a.tif"] && !a.exists(), || {
            "purged once it is back".into()
        });
    }
);

sftest!(min_copies_counts_copies_verified_now, |dir: Dir| {
    let w = World::new(
        dir,
        &["nas", "usb"],
        &["require_verified: [nas]", "min_copies: 2"],
    );
    let a = w.put("a.tif", &small(0));
    w.agent();
    let (root, away) = (w.dir.join("nas/usb"), w.dir.join("nas/usb-away"));
    fs::rename(&root, &away).unwrap();
    let run = w.run(LATER);
    let why = reason(&run, "keep", "a.tif").unwrap_or_default();
    w.check(
        why.starts_with("min_copies: 1 copy verified now, 2 required"),
        || format!("reason {why:?}"),
    );
    w.check(a.is_file(), || "kept".into());
    fs::rename(&away, &root).unwrap();
    let run = w.run(LATER);
    w.check(paths(&run, "purge") == ["a.tif"], || {
        "purged with both copies verified".into()
    });
});

sftest!(
    modified_files_are_kept_and_become_new_versions,
    |dir: Dir| {
        let w = World::new(dir, &["nas"], &[]);
        let grown = w.put("grown.tif", &small(0));
        let silent = w.put("silent.tif", &small(1));
        w.agent();
        // One file written to again (size and mtime change); one changed in place with its size
        // and mtime restored, which only the re-hash catches.
        fs::OpenOptions::new()
            .append(true)
            .open(&grown)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        flip_byte(&silent, true);
        let before = sha256_file(&silent);
        let (r, run) = w.robot("run", LATER);
        let why = reason(&run, "keep", "grown.tif").unwrap_or_default();
        w.check(
            why.starts_with("modified since ingest") && why.contains("version 2"),
            || format!("reason {why:?}"),
        );
        let why = reason(&run, "keep", "silent.tif").unwrap_or_default();
        w.check(
            why.starts_with("modified since ingest") && why.contains("sha256"),
            || format!("reason {why:?}"),
        );
        w.check(r.stderr.contains("ALARM"), || {
            "a content change under the same mtime raises an alarm".into()
        });
        w.check(grown.is_file() && sha256_file(&silent) == before, || {
            "both kept".into()
        });
        let st = w.current("grown.tif");
        w.check(st["version"] == 2 && st["state"] == "discovered", || {
            format!("new version {st}")
        });
        // Version 1 is still `verified` and names the same local path: it must never be purged.
        let run = w.run(LATER);
        let why = reason(&run, "keep", "grown.tif").unwrap_or_default();
        w.check(why.starts_with("not verified"), || {
            format!("reason {why:?}")
        });
        w.check(grown.is_file(), || {
            "the new content is never deleted through version 1".into()
        });
    }
);
