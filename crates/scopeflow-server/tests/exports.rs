//! The repository exports (DataCite JSON, Dublin Core) on both backends: the QC document's
//! `metadata` and `naming` are kept at ingest (the newest `processed` wins, even when an older
//! one arrives late), shown by `GET /api/files/{id}`, and a folder or a search is a dataset.
//! Schema validation of the same exports runs in the end-to-end suite (`tests/exports.rs`).

#[macro_use]
mod common;

use common::{Backend, Env, batch, ev, lifecycle, qc_doc};
use serde_json::{Value, json};

on_both_backends!(
    metadata_is_kept_and_exported,
    datasets_are_folders_or_searches,
    a_big_batch_keeps_every_files_metadata,
);

const ELN: &str = "https://eln.lab.example/experiments.php?mode=view&id=42";
const CH: &[(&str, f64, f64)] = &[("DAPI", 12.0, 0.0)];

fn described(description: &str) -> Value {
    json!({
        "project": "HeLa atlas", "license": "CC-BY-4.0", "contact": "alice@lab.example",
        "description": description, "funder": "ANR", "keywords": ["HeLa", "DAPI"],
        "specimen": {"stain": "DAPI"}, "eln_url": ELN,
    })
}

/// The life of `path` with `metadata` (and a naming verdict) in its QC document.
fn with_metadata(prefix: &str, path: &str, metadata: Value) -> Vec<Value> {
    let mut events = lifecycle(
        prefix,
        path,
        1000,
        "LSM 980",
        "2026-11-30T09:00:00Z",
        CH,
        "2026-12-01",
    );
    let qc = &mut events[1]["data"]["qc"];
    qc["metadata"] = metadata;
    qc["naming"] =
        json!({"mode": "warn", "ok": false, "problems": [{"rule": "date", "message": "no date"}]});
    events
}

async fn id_of(env: &Env, path: &str) -> i64 {
    let files = env.get(&format!("/api/files?q={path}")).await;
    files["files"][0]["id"].as_i64().expect("file id")
}

async fn metadata_is_kept_and_exported(b: Backend) {
    let env = Env::new(b).await;
    env.ingest(&batch(
        "scope-1",
        with_metadata("a", "alice/run1/a.tif", described("new")),
    ))
    .await;
    // An older `processed` event arriving late does not replace the newer document.
    let mut late = qc_doc("LSM 980", "2026-11-30T09:00:00Z", CH);
    late["metadata"] = json!({"description": "old"});
    let old = ev(
        "late",
        "2026-11-01T00:00:00Z",
        "alice/run1/a.tif",
        1000,
        "processed",
        json!({"qc": late}),
    );
    env.ingest(&batch("scope-1", vec![old])).await;
    let id = id_of(&env, "alice/run1/a.tif").await;

    let file = env.get(&format!("/api/files/{id}")).await;
    assert_eq!(file["eln_url"], ELN, "{file:#}");
    assert_eq!(file["metadata"]["description"], "new", "{file:#}");
    assert_eq!(file["naming"]["problems"][0]["rule"], "date", "{file:#}");

    let dc = env.get(&format!("/api/files/{id}/datacite.json")).await;
    assert_eq!(dc["types"]["resourceTypeGeneral"], "Image");
    assert_eq!(dc["creators"], json!([{"name": "alice"}]));
    assert_eq!(dc["titles"][0]["title"], "alice/run1/a.tif");
    assert_eq!(dc["titles"][1]["title"], "HeLa atlas");
    assert_eq!(dc["publicationYear"], "2026");
    assert_eq!(
        dc["dates"],
        json!([{"date": "2026-11-30T09:00:00.000Z", "dateType": "Created"}])
    );
    assert_eq!(dc["rightsList"][0]["rightsIdentifier"], "CC-BY-4.0");
    assert_eq!(
        dc["subjects"],
        json!([{"subject": "HeLa"}, {"subject": "DAPI"}])
    );
    assert_eq!(dc["fundingReferences"], json!([{"funderName": "ANR"}]));
    assert_eq!(dc["contributors"][0]["name"], "alice@lab.example");
    assert_eq!(dc["relatedIdentifiers"][0]["relatedIdentifier"], ELN);
    assert_eq!(dc["relatedIdentifiers"][0]["relationType"], "IsPartOf");
    assert_eq!(
        dc["alternateIdentifiers"][1]["alternateIdentifier"],
        "ab".repeat(32)
    );
    assert_eq!(dc["formats"], json!(["image/tiff", "ome-tiff"]));
    assert_eq!(dc["sizes"], json!(["1000 bytes", "1 file"]));
    let described: Vec<&str> = dc["descriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["description"].as_str().unwrap())
        .collect();
    assert!(described.contains(&"new"), "{described:?}");
    assert!(described.contains(&"specimen.stain: DAPI"), "{described:?}");
    assert!(
        described.iter().any(|d| d.contains("Instrument: LSM 980")
            && d.contains("Naming convention (warn): rules broken: date")),
        "{described:?}"
    );
    let url = format!("{}/api/files/{id}", env.base);
    assert_eq!(dc["url"], url.as_str());

    let (status, xml) = env
        .text_as_viewer(&format!("/api/files/{id}/dublin-core.xml"))
        .await;
    assert_eq!(status, 200, "{xml}");
    for part in [
        "<oai_dc:dc xmlns:oai_dc=\"http://www.openarchives.org/OAI/2.0/oai_dc/\"",
        "<dc:title>alice/run1/a.tif</dc:title>",
        "<dc:creator>alice</dc:creator>",
        "<dc:type>Image</dc:type>",
        "<dc:rights>https://spdx.org/licenses/CC-BY-4.0</dc:rights>",
        // `&` escaped.
        "<dc:relation>https://eln.lab.example/experiments.php?mode=view&amp;id=42</dc:relation>",
        "<dc:source>scope-1:acq/alice/run1/a.tif</dc:source>",
    ] {
        assert!(xml.contains(part), "{part} missing from\n{xml}");
    }
    let (status, _) = env.text_as_viewer("/api/files/999999/datacite.json").await;
    assert_eq!(status, 404);
}

async fn datasets_are_folders_or_searches(b: Backend) {
    let env = Env::new(b).await;
    let mut events = with_metadata("a", "alice/run1/a.tif", described("first"));
    events.extend(with_metadata("b", "alice/run1/b.tif", described("second")));
    events.extend(lifecycle(
        "c",
        "alice/run10/c.tif",
        5,
        "LSM",
        "2026-12-02T09:00:00Z",
        CH,
        "2026-12-02",
    ));
    events.extend(lifecycle(
        "d",
        "bob/d.tif",
        7,
        "LSM",
        "2026-12-03T09:00:00Z",
        CH,
        "2026-12-03",
    ));
    env.ingest(&batch("scope-1", events)).await;

    let dc = env
        .get("/api/datasets/datacite.json?folder=alice/run1")
        .await;
    assert_eq!(dc["types"]["resourceTypeGeneral"], "Dataset");
    assert_eq!(dc["titles"][0]["title"], "alice/run1");
    assert_eq!(
        dc["sizes"],
        json!(["2000 bytes", "2 files"]),
        "run10 is not in run1: {dc:#}"
    );
    let parts: Vec<&Value> = dc["relatedIdentifiers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationType"] == "HasPart")
        .collect();
    assert_eq!(parts.len(), 2, "{dc:#}");
    let abstracts: Vec<&Value> = dc["descriptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["descriptionType"] == "Abstract")
        .collect();
    assert_eq!(abstracts.len(), 2, "both descriptions, once each: {dc:#}");

    // A search result: the same filters as `GET /api/files`.
    let dc = env.get("/api/datasets/datacite.json?q=alice").await;
    assert_eq!(dc["sizes"][1], "3 files", "{dc:#}");
    assert_eq!(dc["titles"][0]["title"], "Files where q=alice");
    assert_eq!(
        dc["dates"][0]["date"], "2026-11-30T09:00:00.000Z/2026-12-02T09:00:00.000Z",
        "the acquisitions' span: {dc:#}"
    );
    let (status, xml) = env
        .text_as_viewer("/api/datasets/dublin-core.xml?folder=bob")
        .await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<dc:type>Dataset</dc:type>"), "{xml}");
    assert!(xml.contains("<dc:creator>bob</dc:creator>"), "{xml}");

    // Folders are matched exactly (case included); a dataset needs a folder or a search.
    let (status, body) = env
        .text_as_viewer("/api/datasets/datacite.json?folder=Alice")
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = env.text_as_viewer("/api/datasets/datacite.json").await;
    assert_eq!(status, 400, "{body}");
    let files = env.get("/api/files?folder=alice").await;
    assert_eq!(files["files"].as_array().unwrap().len(), 3, "{files:#}");
}

/// More files in one batch than one statement stores (60): each keeps its own document.
async fn a_big_batch_keeps_every_files_metadata(b: Backend) {
    let env = Env::new(b).await;
    let mut events = Vec::new();
    for i in 0..150 {
        events.extend(with_metadata(
            &format!("m{i}"),
            &format!("many/{i:03}.tif"),
            described(&format!("d{i}")),
        ));
    }
    env.ingest(&batch("scope-1", events)).await;
    let dc = env.get("/api/datasets/datacite.json?folder=many").await;
    let abstracts = dc["descriptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["descriptionType"] == "Abstract")
        .count();
    assert_eq!(abstracts, 150, "{dc:#}");
}
