//! `record_digests`: the converter reports the SHA-256 of every file it writes through the
//! zarr store, keyed by its path in OUTPUT. The agent checks its copies against these instead
//! of reading the work folder again, so a wrong or missing entry would either fail good copies
//! or quietly bring the second read back: both are checked here on real files, a plain image
//! and a multi-series container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scopeflow_ngff::{ConvertOptions, SeriesChoice, convert_file};
use sha2::{Digest, Sha256};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/real")
        .join(name)
}

/// Every file under `top`, by '/'-separated path, with its sha256 and size read from disk.
fn on_disk(top: &Path) -> BTreeMap<String, ([u8; 32], u64)> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![top.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let rel = p.strip_prefix(top).unwrap();
                let rel: Vec<_> = rel.iter().map(|c| c.to_string_lossy()).collect();
                out.insert(
                    rel.join("/"),
                    (Sha256::digest(&bytes).into(), bytes.len() as u64),
                );
            }
        }
    }
    out
}

/// Converts `name` with digests on; returns what was reported and what is on disk.
fn convert(
    name: &str,
    record: bool,
) -> (
    scopeflow_ngff::FileReport,
    BTreeMap<String, ([u8; 32], u64)>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("image.ome.zarr");
    let opts = ConvertOptions {
        record_digests: record,
        early_writeback: record,
        ..Default::default()
    };
    let report = convert_file(&sample(name), &out, &opts, SeriesChoice::All, &|_| {}).unwrap();
    let disk = on_disk(&out);
    (report, disk)
}

/// Each reported digest is the file's on disk, and every chunk and array document is
/// reported; only the group documents (written once, outside the store) may be missing.
fn check(report: &scopeflow_ngff::FileReport, disk: &BTreeMap<String, ([u8; 32], u64)>) {
    assert!(!report.written.is_empty());
    for (sub, digest) in &report.written {
        assert_eq!(disk.get(sub), Some(digest), "{sub}");
    }
    let missing: Vec<&String> = disk
        .keys()
        .filter(|sub| !report.written.contains_key(*sub))
        .collect();
    for sub in &missing {
        let name = sub.rsplit('/').next().unwrap();
        let group_doc = matches!(
            name,
            "zarr.json" | ".zattrs" | ".zgroup" | "METADATA.ome.xml"
        ) && !disk
            .keys()
            .any(|k| k.starts_with(&format!("{}c/", &sub[..sub.len() - name.len()])));
        assert!(group_doc, "{sub} was written but not reported");
    }
    assert!(missing.len() < 8, "{missing:?}");
}

#[test]
fn a_plain_image_reports_every_chunk_it_wrote() {
    let (report, disk) = convert("cellprofiler_largeimg.ome.tiff", true);
    assert!(!report.container);
    check(&report, &disk);
}

#[test]
fn a_container_reports_every_series_under_its_path() {
    let (report, disk) = convert("readlif_testdata_2channel_xz.lif", true);
    assert!(report.container);
    check(&report, &disk);
    for s in ["0", "1", "2"] {
        let prefix = format!("{s}/");
        assert!(
            report.written.keys().any(|k| k.starts_with(&prefix)),
            "series {s}"
        );
    }
}

#[test]
fn nothing_is_hashed_unless_asked() {
    let (report, disk) = convert("cellprofiler_largeimg.ome.tiff", false);
    assert!(report.written.is_empty());
    assert!(!disk.is_empty());
}
