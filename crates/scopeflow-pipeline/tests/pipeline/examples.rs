//! Every pipeline shipped in `pipelines/` must pass `scopeflow pipeline check` as it is.

use std::path::PathBuf;

use scopeflow_pipeline::{DestinationKind, RetentionMode, Step, load};

/// Found at run time, so the test follows the repository wherever it is built from.
fn pipelines_dir() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("run through cargo");
    PathBuf::from(manifest).join("../../pipelines")
}

#[test]
fn every_example_loads() {
    let mut seen = 0;
    for entry in std::fs::read_dir(pipelines_dir()).expect("pipelines/") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = load(&path) {
                panic!("{} does not load:\n{e}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 3, "expected the three examples, found {seen}");
}

#[test]
fn demo_reads_as_documented() {
    let dir = pipelines_dir();
    let p = load(&dir.join("demo.yaml")).unwrap();
    let base = std::path::absolute(&dir).unwrap();
    assert_eq!(p.name, "demo");
    assert_eq!(p.watch.len(), 1);
    assert!(p.watch[0].path.is_absolute());
    assert!(p.watch[0].path.ends_with("demo/acquisitions"));
    assert_eq!(p.watch[0].settle, std::time::Duration::from_secs(2));
    // No `include` in demo.yaml: the default covers every format the readers open.
    for ext in [
        "tif", "tiff", "czi", "ims", "lif", "nd2", "png", "jpg", "jpeg", "bmp", "TIF", "CZI",
    ] {
        let glob = format!("**/*.{ext}");
        assert!(
            p.watch[0].include.contains(&glob),
            "default include lacks {glob}: {:?}",
            p.watch[0].include
        );
    }
    assert_eq!(
        p.state,
        base.join("demo/.scopeflow/state.db")
            .components()
            .collect::<PathBuf>()
    );
    assert_eq!(p.steps.len(), 3);
    assert_eq!(p.destinations[0].name, "nas");
    assert!(
        matches!(&p.destinations[0].kind, DestinationKind::Local { path } if path.ends_with("demo/nas"))
    );
    assert_eq!(p.retention.require_verified, ["nas"]);
    assert_eq!(p.retention.mode, RetentionMode::Delete);
}

#[test]
fn confocal_has_three_destinations_and_a_server() {
    let p = load(&pipelines_dir().join("confocal-3-2-1.yaml")).unwrap();
    let kinds: Vec<&str> = p.destinations.iter().map(|d| d.kind.name()).collect();
    assert_eq!(kinds, ["local", "sftp", "s3"]);
    assert!(p.server.is_some());
    let convert = p.steps.iter().find_map(|s| match s {
        Step::Convert(c) => Some(c),
        _ => None,
    });
    assert_eq!(convert.unwrap().shard_yx, Some(2048));
    match &p.destinations[2].kind {
        DestinationKind::S3(scopeflow_pipeline::S3Settings {
            region,
            read_back,
            access_key_env,
            ..
        }) => {
            assert_eq!(region, "us-east-1");
            assert!(*read_back);
            assert_eq!(access_key_env, "S3_ACCESS_KEY");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn nfs_share_polls() {
    let p = load(&pipelines_dir().join("nfs-share.yaml")).unwrap();
    assert!(p.watch[0].poll);
    assert_eq!(p.watch[0].poll_interval, std::time::Duration::from_secs(10));
}
