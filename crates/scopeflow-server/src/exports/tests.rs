use serde_json::json;

use super::describe::{Kind, describe};
use super::record::Item;
use super::{datacite, dublin_core};
use crate::catalog::FileRow;

fn item(id: i64, path: &str, acquired: &str, meta: serde_json::Value) -> Item {
    Item {
        row: FileRow {
            id,
            agent: "confocal-7".into(),
            watch: "/data/acq".into(),
            path: path.into(),
            version: 1,
            size: 1000,
            found_at: "2026-12-04T10:00:00Z".into(),
            acquired_at: Some(acquired.into()),
            user_name: path.split('/').next().map(str::to_owned),
            format: Some("ome-tiff".into()),
            sha256: Some("ab".repeat(32)),
            ..FileRow::default()
        },
        metadata: meta.as_object().cloned().unwrap_or_default(),
        naming: None,
    }
}

#[test]
fn a_dataset_spans_its_files_and_lists_each_value_once() {
    let meta = json!({"license": "CC-BY-4.0", "keywords": ["HeLa", "DAPI"], "funder": "ANR"});
    let items = [
        item(1, "alice/run1/b.tif", "2026-12-02T08:00:00Z", meta.clone()),
        item(2, "alice/run1/a.tif", "2026-12-01T08:00:00Z", meta),
    ];
    let d = describe(
        Kind::Dataset,
        &items,
        "http://h",
        "http://h/api/files?folder=alice".into(),
        Some("alice".into()),
    );
    assert_eq!(
        d.created,
        Some(("2026-12-01T08:00:00Z".into(), "2026-12-02T08:00:00Z".into()))
    );
    assert_eq!(d.creators, ["alice"]);
    assert_eq!(d.licenses, ["CC-BY-4.0"]);
    assert_eq!(d.formats, ["image/tiff", "ome-tiff"]);
    assert_eq!((d.files, d.bytes), (2, 2000));
    assert_eq!(d.parts, ["http://h/api/files/1", "http://h/api/files/2"]);
    let doc = datacite::render(&d);
    assert_eq!(doc["types"]["resourceTypeGeneral"], "Dataset");
    assert_eq!(
        doc["dates"][0]["date"],
        "2026-12-01T08:00:00Z/2026-12-02T08:00:00Z"
    );
    assert_eq!(
        doc["subjects"],
        json!([{"subject": "HeLa"}, {"subject": "DAPI"}]),
        "keywords in their first order"
    );
    assert!(
        doc.get("version").is_none(),
        "a dataset has no version: {doc}"
    );
}

#[test]
fn dublin_core_escapes_markup_and_replaces_what_xml_cannot_hold() {
    let meta = json!({"description": "a < b & \"c\" </dc:description>"});
    let items = [item(7, "bob/x\u{1}y.tif", "2026-12-01T08:00:00Z", meta)];
    let d = describe(
        Kind::File,
        &items,
        "http://h",
        "http://h/api/files/7".into(),
        None,
    );
    let xml = dublin_core::render(&d);
    assert!(
        xml.contains(
            "<dc:description>a &lt; b &amp; &quot;c&quot; &lt;/dc:description&gt;</dc:description>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<dc:title>bob/x\u{FFFD}y.tif</dc:title>"),
        "{xml}"
    );
    assert!(!xml.contains('\u{1}'));
    assert!(xml.contains("<dc:identifier>sha256:abab"), "{xml}");
}

#[test]
fn creators_are_named_by_the_pipeline_users_map() {
    let named = json!({"users": {"alice": "Alice Martin"}});
    let items = [
        item(1, "alice/a.tif", "2026-12-01T08:00:00Z", named),
        item(2, "bob/b.tif", "2026-12-01T09:00:00Z", json!({})),
    ];
    let d = describe(Kind::Dataset, &items, "http://h", "http://h/x".into(), None);
    assert_eq!(d.creators, ["Alice Martin", "bob"]);
}
