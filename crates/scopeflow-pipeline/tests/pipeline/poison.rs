//! Hostile pipeline files (issue 20): a NUL byte, a path of megabytes, tens of thousands of
//! unknown keys. Each is refused with its line and column, like any other mistake.

use crate::util::{Dir, MINIMAL};

#[test]
fn nul_byte_in_state_is_refused_at_its_position() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}state: \"a\\0b.db\"\n");
    let (line, column, message) = d.problem(&yaml);
    assert_eq!((line, column), (9, 8));
    assert_eq!(
        message,
        "state: contains a NUL byte (character 2), which no path or setting may hold"
    );
}

#[test]
fn nul_byte_in_a_destination_path_and_a_glob_is_refused() {
    let d = Dir::new();
    let yaml = MINIMAL
        .replace("path: out/nas", "path: \"out/\\0nas\"")
        .replace(
            "  - path: acq\n",
            "  - path: acq\n    include: [\"*.tif\\0\"]\n",
        );
    let problems = d.problems(&yaml);
    let keys: Vec<(usize, &str)> = problems
        .iter()
        .map(|(line, _, m)| (*line, m.split(':').next().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [(5, "watch[0].include[0]"), (9, "destinations[0].path")],
        "{problems:#?}"
    );
    assert!(problems.iter().all(|(_, _, m)| m.contains("NUL byte")));
}

#[test]
fn multi_megabyte_path_is_refused() {
    let d = Dir::new();
    let long = "d/".repeat(1 << 20);
    let yaml = format!("{MINIMAL}state: {long}x.db\n");
    let (line, column, message) = d.problem(&yaml);
    assert_eq!((line, column), (9, 8));
    assert_eq!(
        message,
        format!(
            "state: path is {} bytes long; the longest accepted is 32767 (Windows' limit)",
            long.len() + 4
        )
    );
}

#[test]
fn path_at_the_limit_is_accepted() {
    let d = Dir::new();
    let name = "s".repeat(32_767 - "out/".len());
    let yaml = format!("{MINIMAL}state: out/{name}\n");
    let p = d.parse(&yaml).unwrap();
    assert_eq!(p.state, d.join("out").join(&name));
}

#[test]
fn every_one_of_many_unknown_keys_is_reported_in_file_order() {
    let d = Dir::new();
    let n = 50_000;
    let extra: String = (0..n).map(|k| format!("unknown_{k}: {k}\n")).collect();
    let problems = d.problems(&format!("{MINIMAL}{extra}"));
    assert_eq!(problems.len(), n);
    for (k, (line, column, message)) in problems.iter().enumerate() {
        assert_eq!((*line, *column), (9 + k, 1));
        assert!(
            message.starts_with(&format!("unknown key `unknown_{k}` at the top level;")),
            "{message}"
        );
    }
}

#[test]
fn repeated_keys_among_many_point_at_the_first() {
    let d = Dir::new();
    let extra: String = (0..20_000)
        .map(|k| format!("k{}: 1\n", k % 10_000))
        .collect();
    let problems = d.problems(&format!("{MINIMAL}{extra}"));
    // 10,000 unknown keys, then 10,000 repeats of them.
    assert_eq!(problems.len(), 20_000);
    let (line, column, message) = &problems[10_000];
    assert_eq!((*line, *column), (10_009, 1));
    assert_eq!(
        message,
        "the top level: key `k0` is repeated (first at line 9); keep one"
    );
}
