//! `metadata:`, the sidecar metadata file and the `naming` step: the accepted forms and every
//! mistake at its exact line and column.

use std::path::Path;

use scopeflow_pipeline::{NamingMode, Step, parse_sidecar};

use crate::util::{Dir, MINIMAL};

/// The acceptance check's pipeline (issue 16), as operators will write it.
const ACCEPTANCE: &str = "\
steps: [{naming: {mode: reject}}, metadata, qc, convert]
metadata: {project: HeLa atlas, license: CC-BY-4.0, contact: alice@lab.example, description: DAPI stacks}
";

#[test]
fn acceptance_pipeline_is_valid() {
    let d = Dir::new();
    let p = d.parse(&format!("{MINIMAL}{ACCEPTANCE}")).unwrap();
    let names: Vec<&str> = p.steps.iter().map(Step::name).collect();
    assert_eq!(names, ["naming", "metadata", "qc", "convert"]);
    let Step::Naming(n) = &p.steps[0] else {
        panic!("{:?}", p.steps[0])
    };
    assert_eq!(n.mode, NamingMode::Reject);
    assert_eq!(n.max_length, 128);
    assert!(n.require_date);
    assert_eq!(p.metadata.project.as_deref(), Some("HeLa atlas"));
    assert_eq!(p.metadata.license.as_deref(), Some("CC-BY-4.0"));
    assert_eq!(p.metadata.contact.as_deref(), Some("alice@lab.example"));
    assert_eq!(p.metadata.description.as_deref(), Some("DAPI stacks"));
}

#[test]
fn full_metadata_and_naming_options() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}steps:\n  - naming: {{mode: warn, max_length: 64, require_date: false, pattern: \"{{date}}_{{user}}_{{sample}}\"}}\n  - convert\n\
         metadata:\n  project: P\n  license: LicenseRef-lab-1\n  funder: ANR\n  keywords: [HeLa, DAPI]\n  \
         study: {{title: Atlas, year: 2026}}\n  specimen: {{organism: Homo sapiens}}\n  image_acquisition: {{objective: 63x oil}}\n"
    );
    let p = d.parse(&yaml).unwrap();
    let Step::Naming(n) = &p.steps[0] else {
        panic!("{:?}", p.steps[0])
    };
    assert_eq!(n.mode, NamingMode::Warn);
    assert_eq!(n.max_length, 64);
    assert!(!n.require_date);
    assert_eq!(
        n.pattern.as_ref().map(|p| p.text.as_str()),
        Some("{date}_{user}_{sample}")
    );
    assert_eq!(p.metadata.keywords, ["HeLa", "DAPI"]);
    assert_eq!(p.metadata.study["year"], "2026");
    assert_eq!(p.metadata.specimen["organism"], "Homo sapiens");
    assert_eq!(p.metadata.image_acquisition["objective"], "63x oil");
    assert_eq!(p.metadata.license.as_deref(), Some("LicenseRef-lab-1"));
}

#[test]
fn bare_naming_takes_the_defaults() {
    let d = Dir::new();
    let p = d
        .parse(&format!("{MINIMAL}steps: [naming, convert]\n"))
        .unwrap();
    let Step::Naming(n) = &p.steps[0] else {
        panic!("{:?}", p.steps[0])
    };
    assert_eq!(n.mode, NamingMode::Warn);
}

#[test]
fn metadata_mistakes_at_their_place() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}metadata:\n  license: cc-by-4.0\n  contact: \"\"\n  keyword: [x]\n  study: {{title: [a, b]}}\n  keywords: HeLa\n"
    );
    let problems = d.problems(&yaml);
    let messages: Vec<(usize, usize, &str)> = problems
        .iter()
        .map(|(l, c, m)| (*l, *c, m.as_str()))
        .collect();
    assert_eq!(messages.len(), 5, "{problems:#?}");
    assert_eq!(messages[0].0, 10);
    assert_eq!(messages[0].1, 12);
    assert!(
        messages[0]
            .2
            .starts_with("metadata.license: \"cc-by-4.0\" is not a known SPDX licence id; did you mean `CC-BY-4.0`? known: CC-BY-4.0,"),
        "{}",
        messages[0].2
    );
    assert_eq!(messages[1], (11, 12, "metadata.contact: must not be empty"));
    assert_eq!(
        messages[2],
        (
            12,
            3,
            "unknown key `keyword` in metadata; did you mean `keywords`? allowed: project, license, contact, description, funder, keywords, study, specimen, image_acquisition, users"
        )
    );
    assert_eq!(
        messages[3],
        (
            13,
            18,
            "metadata.study.title: expected a plain value (text or number), found a list"
        )
    );
    assert_eq!(
        messages[4],
        (
            14,
            13,
            "metadata.keywords: expected a list like [HeLa], found \"HeLa\""
        )
    );
}

#[test]
fn naming_mistakes_at_their_place() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}steps:\n  - naming:\n      mode: block\n      pattern: \"{{date}}_{{User}}\"\n      max_length: 0\n      limit: 3\n"
    );
    assert_eq!(
        d.problems(&yaml),
        [
            (11, 13, "steps[0].naming.mode: expected warn or reject, found \"block\"".to_owned()),
            (
                12,
                16,
                "steps[0].naming.pattern: `{User}` is not a field: fields are lowercase names in braces, like {date}".to_owned()
            ),
            (13, 19, "steps[0].naming.max_length: must be at least 1, found 0".to_owned()),
            (
                14,
                7,
                "unknown key `limit` in steps[0].naming; allowed: mode, max_length, require_date, pattern".to_owned()
            ),
        ]
    );
}

#[test]
fn sidecar_file() {
    let file = Path::new("acq/run1/scopeflow-metadata.yaml");
    let m = parse_sidecar(
        "description: Second run\neln_url: https://eln.lab.example/experiments.php?mode=view&id=42\nspecimen:\n  stain: DAPI\n",
        file,
    )
    .unwrap();
    assert_eq!(m.description.as_deref(), Some("Second run"));
    assert_eq!(
        m.eln_url.as_deref(),
        Some("https://eln.lab.example/experiments.php?mode=view&id=42")
    );
    assert_eq!(m.specimen["stain"], "DAPI");

    let Err(e) = parse_sidecar("license: CC-BY\neln_url: eln.lab/42\nsteps: []\n", file) else {
        panic!("accepted")
    };
    let report = e.to_string();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert!(lines[0].starts_with("acq/run1/scopeflow-metadata.yaml:1:10: license: \"CC-BY\" is not a known SPDX licence id"), "{report}");
    assert_eq!(
        lines[1],
        "acq/run1/scopeflow-metadata.yaml:2:10: eln_url: expected a URL starting with http:// or https://, found \"eln.lab/42\""
    );
    assert!(
        lines[2].starts_with(
            "acq/run1/scopeflow-metadata.yaml:3:1: unknown key `steps` at the top level;"
        ),
        "{report}"
    );

    let Err(e) = parse_sidecar("description: [unclosed\n", file) else {
        panic!("accepted")
    };
    assert!(
        e.to_string()
            .starts_with("acq/run1/scopeflow-metadata.yaml:"),
        "{e}"
    );
}

#[test]
fn eln_url_belongs_in_sidecars() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}metadata:\n  eln_url: https://eln.example/1\n");
    let (line, column, message) = d.problem(&yaml);
    assert_eq!((line, column), (10, 3));
    assert!(
        message.starts_with("unknown key `eln_url` in metadata;"),
        "{message}"
    );
}
