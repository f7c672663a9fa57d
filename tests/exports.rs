//! Repository exports of the central server (issue 16) fed by the real agent: a pipeline with
//! `metadata:`, a sidecar with `eln_url`, the naming step in `warn` mode, and a file name full
//! of XML's special characters. Every DataCite record is validated against the DataCite 4.5
//! JSON schema of the `datacite` package, every Dublin Core record against the OAI `oai_dc`
//! XSD (`tests/tools/check_exports.py`, offline); broken copies of both are refused by the
//! same validators, so a validator that accepts anything would fail the test.
//!
//! Unix only: the odd file name holds characters Windows forbids in names.

#![cfg(unix)]

use std::time::Duration;

use serde_json::Value;

use crate::server::{Server, free_port, get_json, token};
use crate::util::*;

const GOOD: &str = "alice/20261204_alice_hela_dapi.tif";
const ODD: &str = "alice/run2/gfp <run> & \"co\".tif";
const ELN: &str = "https://eln.lab.example/experiments.php?mode=view&id=42";

fn pipeline(dir: &Dir, port: u16) -> std::path::PathBuf {
    dir.create(
        "pipeline.yaml",
        format!(
            "version: 1\nname: confocal-7\nwatch:\n  - path: acquisitions\n    include: [\"**/*.tif\"]\n    settle: 1s\n\
             state: state/journal.db\nsteps: [{{naming: {{mode: warn}}}}, metadata, qc, convert]\n\
             metadata:\n  project: HeLa atlas\n  license: CC-BY-4.0\n  contact: alice@lab.example\n  \
             description: DAPI stacks\n  funder: ANR-24-XXXX\n  keywords: [HeLa, DAPI]\n  \
             study: {{title: Nuclear shape atlas}}\n\
             destinations:\n  - name: nas\n    kind: local\n    path: nas/confocal-7\n\
             server:\n  url: http://127.0.0.1:{port}\n  token_file: agent.token\n"
        ),
    )
}

/// The body of a GET with the viewer token; panics unless 200.
fn fetch(url: &str, token: &str) -> String {
    let resp = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .and_then(|c| c.get(url).bearer_auth(token).send())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let code = resp.status().as_u16();
    let body = resp.text().unwrap_or_default();
    assert_eq!(code, 200, "GET {url}: {body}");
    body
}

/// The problems `check_exports.py KIND` finds in `text` (written to `name` in `dir`).
fn problems(dir: &Dir, kind: &str, name: &str, text: &str) -> Vec<String> {
    let file = dir.create(name, text);
    let r = python(args![
        repo_root().join("tests/tools/check_exports.py"),
        kind,
        &file
    ]);
    assert_eq!(r.code(), Some(0), "check_exports.py failed: {r}");
    let out = r.stdout_json();
    out["problems"]
        .as_array()
        .map(|a| a.iter().map(|p| p.to_string()).collect())
        .unwrap_or_default()
}

/// Fetches both exports at `path` (`…/datacite.json` and `…/dublin-core.xml` after it),
/// records their validation problems, returns the DataCite record and the XML.
fn exports(
    p: &mut Problems,
    dir: &Dir,
    server: &Server,
    token: &str,
    path: &str,
    query: &str,
) -> (Value, String) {
    let json_url = format!("{}{path}/datacite.json{query}", server.url);
    let xml_url = format!("{}{path}/dublin-core.xml{query}", server.url);
    let datacite = fetch(&json_url, token);
    for problem in problems(dir, "datacite", "export.json", &datacite) {
        p.push(format!("{json_url}: {problem}"));
    }
    let xml = fetch(&xml_url, token);
    for problem in problems(dir, "oai_dc", "export.xml", &xml) {
        p.push(format!("{xml_url}: {problem}"));
    }
    let doc = serde_json::from_str(&datacite).unwrap_or_else(|e| panic!("{json_url}: {e}"));
    (doc, xml)
}

fn related(doc: &Value, relation: &str) -> Vec<String> {
    doc["relatedIdentifiers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["relationType"] == relation)
        .filter_map(|r| r["relatedIdentifier"].as_str().map(str::to_owned))
        .collect()
}

sftest!(exports_of_real_agent_files_validate, |dir: Dir| {
    let db = format!("sqlite://{}", dir.join("server.db").display());
    dir.create("agent.token", token(&db, &["--agent", "confocal-7"]) + "\n");
    let viewer = token(&db, &["--viewer"]);
    let port = free_port();
    let cfg = pipeline(&dir, port);
    dir.mkdir("acquisitions/alice/run2");
    dir.mkdir("nas");
    std::fs::copy(SYNTH_B.path(), dir.join("acquisitions").join(GOOD)).expect("copy");
    std::fs::copy(SYNTH_F.path(), dir.join("acquisitions").join(ODD)).expect("copy");
    dir.create(
        "acquisitions/alice/run2/scopeflow-metadata.yaml",
        format!("description: GFP second run\neln_url: {ELN}\nkeywords: [GFP]\n"),
    );
    let server = Server::start(&db, port, &dir.join("server.log"));
    scopeflow(args!["agent", "--config", &cfg, "--once"]).success();

    let files = get_json(
        &format!("{}/api/files?agent=confocal-7", server.url),
        &viewer,
    );
    let files = files["files"].as_array().cloned().unwrap_or_default();
    let by_path = |rel: &str| {
        files
            .iter()
            .find(|f| f["path"] == rel)
            .unwrap_or_else(|| panic!("{rel} not on the server: {files:#?}"))
            .clone()
    };
    let (good, odd) = (by_path(GOOD), by_path(ODD));
    let mut p = Problems::new();

    let (doc, xml) = exports(
        &mut p,
        &dir,
        &server,
        &viewer,
        &format!("/api/files/{}", good["id"]),
        "",
    );
    p.check(doc["types"]["resourceTypeGeneral"] == "Image", || {
        format!("type: {doc}")
    });
    p.check(doc["creators"][0]["name"] == "alice", || {
        format!("creators: {}", doc["creators"])
    });
    p.check(
        doc["alternateIdentifiers"][1]["alternateIdentifier"] == good["sha256"],
        || {
            format!(
                "sha256: {} vs {}",
                doc["alternateIdentifiers"], good["sha256"]
            )
        },
    );
    p.check(
        doc["rightsList"][0]["rightsIdentifier"] == "CC-BY-4.0",
        || format!("rights: {}", doc["rightsList"]),
    );
    p.check(
        doc["descriptions"].as_array().is_some_and(|d| {
            d.iter().any(|x| {
                x["descriptionType"] == "TechnicalInfo"
                    && x["description"]
                        .as_str()
                        .is_some_and(|s| s.contains("Naming convention (warn): followed"))
            })
        }),
        || {
            format!(
                "the naming verdict is not described: {}",
                doc["descriptions"]
            )
        },
    );
    match good["acquired_at"].as_str() {
        Some(at) => p.check(doc["dates"][0]["date"] == at, || {
            format!("Created {} is not the acquisition time {at}", doc["dates"])
        }),
        None => p.check(doc["dates"][0]["dateType"] == "Created", || {
            format!("dates: {}", doc["dates"])
        }),
    }
    p.check(xml.contains("<dc:subject>HeLa</dc:subject>"), || {
        format!("keywords: {xml}")
    });

    let (doc, xml) = exports(
        &mut p,
        &dir,
        &server,
        &viewer,
        &format!("/api/files/{}", odd["id"]),
        "",
    );
    p.check(related(&doc, "IsPartOf") == [ELN], || {
        format!("the notebook link: {}", doc["relatedIdentifiers"])
    });
    p.check(doc["titles"][0]["title"] == ODD, || {
        format!("title: {}", doc["titles"])
    });
    p.check(
        xml.contains("<dc:title>alice/run2/gfp &lt;run&gt; &amp; &quot;co&quot;.tif</dc:title>"),
        || format!("the odd name is not escaped as expected: {xml}"),
    );
    p.check(doc["subjects"][0]["subject"] == "GFP", || {
        format!("the sidecar's keywords: {}", doc["subjects"])
    });
    let one = get_json(&format!("{}/api/files/{}", server.url, odd["id"]), &viewer);
    p.check(one["eln_url"] == ELN, || {
        format!("GET /api/files/ID has no eln_url: {}", one["eln_url"])
    });

    // A folder and a search result.
    let (doc, _) = exports(
        &mut p,
        &dir,
        &server,
        &viewer,
        "/api/datasets",
        "?folder=alice/run2",
    );
    p.check(
        doc["sizes"][1] == "1 file" && doc["types"]["resourceTypeGeneral"] == "Dataset",
        || format!("folder dataset: {doc}"),
    );
    let (doc, xml) = exports(
        &mut p,
        &dir,
        &server,
        &viewer,
        "/api/datasets",
        "?q=alice&agent=confocal-7",
    );
    p.check(doc["sizes"][1] == "2 files", || {
        format!("search dataset: {doc}")
    });
    p.check(related(&doc, "HasPart").len() == 2, || {
        format!("parts: {}", doc["relatedIdentifiers"])
    });
    p.check(xml.contains("<dc:type>Dataset</dc:type>"), || xml.clone());

    // The validators refuse what they should: no creators, an element oai_dc does not have.
    let mut broken = doc.clone();
    broken.as_object_mut().map(|o| o.remove("creators"));
    p.check(
        !problems(&dir, "datacite", "broken.json", &broken.to_string()).is_empty(),
        || "the DataCite validator accepts a record without creators".into(),
    );
    let broken = xml.replace("dc:type>", "dc:kind>");
    p.check(
        !problems(&dir, "oai_dc", "broken.xml", &broken).is_empty(),
        || "the oai_dc validator accepts an unknown element".into(),
    );
    p.finish("repository exports");
});
