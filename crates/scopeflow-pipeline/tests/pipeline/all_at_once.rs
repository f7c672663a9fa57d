//! A file with several unrelated problems reports all of them in one run, in file order,
//! as `FILE:LINE:COL: message` lines.

use crate::util::Dir;

const FIVE_PROBLEMS: &str = "\
version: 1
name: t
watch:
  - path: missing
    settle: soon
destinations:
  - name: nas
    kind: local
    path: out/nas
  - name: nas
    kind: local
    path: out/other
retention:
  require_verified: [nas, offsite]
protect_raw: maybe
";

#[test]
fn five_problems_are_all_reported() {
    let d = Dir::new();
    let e = d.parse(FIVE_PROBLEMS).unwrap_err();
    let positions: Vec<(usize, usize)> = e.errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(
        positions,
        [(4, 11), (5, 13), (10, 11), (14, 27), (15, 14)],
        "{e}"
    );
    let report = e.to_string();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 5, "{report}");
    assert!(report.ends_with('\n'));
    let missing = d.join("missing");
    assert_eq!(
        lines[0],
        format!(
            "p.yaml:4:11: watch[0].path: folder {} does not exist",
            missing.display()
        )
    );
    assert_eq!(
        lines[1],
        "p.yaml:5:13: watch[0].settle: `soon` is not a duration: expected a number and a unit (ms, s, m, h or d), like 30s"
    );
    assert_eq!(
        lines[2],
        "p.yaml:10:11: destinations[1].name: `nas` is already the name of destinations[0] (line 7); names must be unique"
    );
    assert_eq!(
        lines[3],
        "p.yaml:14:27: retention.require_verified[1]: `offsite` is not a destination (destinations: nas)"
    );
    assert_eq!(
        lines[4],
        "p.yaml:15:14: protect_raw: expected true or false, found \"maybe\""
    );
}
