//! One problem per file: the exact message and the exact line and column it points at.

use crate::util::{Dir, MINIMAL, at};

#[test]
fn minimal_is_valid() {
    let d = Dir::new();
    let p = d.parse(MINIMAL).unwrap();
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    assert_eq!(p.workers, cores.clamp(2, 4), "the machine's cores, 2 to 4");
    assert_eq!(
        p.retention.require_verified,
        ["nas"],
        "defaults to every destination"
    );
}

#[test]
fn unknown_key_at_depth_three() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}steps:\n  - convert:\n      chunk_yx: 512\n      chunks: 4\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            12,
            7,
            "unknown key `chunks` in steps[0].convert; allowed: ngff, chunk_yx, shard_yx, codec, level, levels"
        )
    );
}

#[test]
fn unknown_key_suggests_the_near_one() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("  - path: acq\n", "  - path: acq\n    setle: 5s\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            5,
            5,
            "unknown key `setle` in watch[0]; did you mean `settle`? allowed: path, include, exclude, settle, poll, poll_interval, rescan"
        )
    );
}

#[test]
fn wrong_type() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("  - path: acq\n", "  - path: acq\n    poll: yes\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            5,
            11,
            "watch[0].poll: expected true or false, found \"yes\""
        )
    );
}

#[test]
fn number_where_a_duration_belongs() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("  - path: acq\n", "  - path: acq\n    settle: 5\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            5,
            13,
            "watch[0].settle: expected a duration like 30s, found 5 (add a unit: 5s, 5m, 5h or 5d)"
        )
    );
}

#[test]
fn bad_duration() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("  - path: acq\n", "  - path: acq\n    settle: 5x\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            5,
            13,
            "watch[0].settle: duration `5x` has an unknown unit `x`: use ms, s, m, h or d"
        )
    );
}

#[test]
fn empty_value_points_at_its_key() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("  - path: acq\n", "  - path: acq\n    rescan:\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            5,
            5,
            "watch[0].rescan: expected a duration like 30s, found nothing"
        )
    );
}

#[test]
fn undefined_destination_in_require_verified() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}retention:\n  require_verified: [nas, offsite]\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            10,
            27,
            "retention.require_verified[1]: `offsite` is not a destination (destinations: nas)"
        )
    );
}

#[test]
fn missing_watch_folder() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("path: acq", "path: missing");
    let message = format!(
        "watch[0].path: folder {} does not exist",
        d.join("missing").display()
    );
    assert_eq!(d.problem(&yaml), at(4, 11, &message));
}

#[test]
fn watch_path_that_is_a_file() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("path: acq", "path: keys/id");
    let message = format!(
        "watch[0].path: {} is not a folder",
        d.join("keys/id").display()
    );
    assert_eq!(d.problem(&yaml), at(4, 11, &message));
}

#[test]
fn duplicate_destination_name() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}  - name: nas\n    kind: local\n    path: out/other\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            9,
            11,
            "destinations[1].name: `nas` is already the name of destinations[0] (line 6); names must be unique"
        )
    );
}

#[test]
fn plain_password_is_refused_without_repeating_it() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}  - name: meso\n    kind: sftp\n    url: sftp://me@host/x\n    known_hosts: keys/known_hosts\n    identity: keys/id\n    password: hunter2\n"
    );
    let problem = d.problem(&yaml);
    assert_eq!(
        problem,
        at(
            14,
            5,
            "destinations[1].password: secrets never go in the pipeline file; use `password_env` with the name of an environment variable that holds it"
        )
    );
}

#[test]
fn secrets_anywhere_name_their_replacement() {
    let d = Dir::new();
    let yaml =
        format!("{MINIMAL}server:\n  url: http://x\n  token_file: keys/token\n  token: abc123\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            12,
            3,
            "server.token: secrets never go in the pipeline file; use `token_file` with a file that holds it"
        )
    );
    let yaml = format!(
        "{MINIMAL}  - name: o\n    kind: s3\n    bucket: b12\n    access_key_env: A\n    secret_key_env: B\n    secret_key: wJalrXUtnFEMI\n"
    );
    let (line, column, message) = d.problem(&yaml);
    assert_eq!((line, column), (14, 5));
    assert!(message.contains("use `secret_key_env`"), "{message}");
    assert!(!message.contains("wJalr"), "{message}");
}

#[test]
fn env_names_that_look_like_secrets_are_not_echoed() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}  - name: o\n    kind: s3\n    bucket: b12\n    access_key_env: AKIA/xyz+secret=\n    secret_key_env: B\n"
    );
    let (line, column, message) = d.problem(&yaml);
    assert_eq!((line, column), (12, 21));
    assert!(message.starts_with(
        "destinations[1].access_key_env: must be the name of an environment variable"
    ));
    assert!(!message.contains("AKIA"), "{message}");
}

#[test]
fn missing_required_keys_point_at_the_map() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}  - name: meso\n    kind: sftp\n");
    assert_eq!(
        d.problems(&yaml),
        [
            at(9, 5, "destinations[1]: missing required key `url`"),
            at(
                9,
                5,
                "destinations[1]: sftp needs `identity` (a private key file) or `password_env` (the environment variable holding the password)"
            ),
            at(9, 5, "destinations[1]: missing required key `known_hosts`"),
        ]
    );
    let yaml = MINIMAL.replace("version: 1\n", "");
    assert_eq!(
        d.problem(&yaml),
        at(1, 1, "the top level: missing required key `version`")
    );
}

#[test]
fn unknown_destination_kind() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}  - {{name: x, kind: ftp}}\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            9,
            21,
            "destinations[1].kind: must be one of local, sftp, s3, found \"ftp\""
        )
    );
}

#[test]
fn bad_sftp_url() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}  - name: meso\n    kind: sftp\n    url: sftp://me@host:ssh/x\n    known_hosts: keys/known_hosts\n    identity: keys/id\n"
    );
    assert_eq!(
        d.problem(&yaml),
        at(
            11,
            10,
            "destinations[1].url: the URL's port is not a number from 1 to 65535"
        )
    );
}

#[test]
fn missing_key_files() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}  - name: meso\n    kind: sftp\n    url: sftp://host/x\n    known_hosts: keys/nope\n    identity: keys\n"
    );
    assert_eq!(
        d.problems(&yaml),
        [
            at(
                12,
                18,
                &format!(
                    "destinations[1].known_hosts: file {} does not exist",
                    d.join("keys/nope").display()
                )
            ),
            at(
                13,
                15,
                &format!(
                    "destinations[1].identity: {} is a folder, not a file",
                    d.join("keys").display()
                )
            ),
        ]
    );
}

#[test]
fn local_destination_may_be_unmounted_at_check_time() {
    // A NAS share that is not mounted yet is retried by the agent, not a configuration error.
    let d = Dir::new();
    let yaml = MINIMAL.replace("path: out/nas", "path: nowhere/nas");
    let p = d.parse(&yaml).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(&p.destinations[0].kind, scopeflow_pipeline::DestinationKind::Local { path } if path.ends_with("nowhere/nas"))
    );
    std::fs::write(d.join("afile"), b"x").unwrap();
    let yaml = MINIMAL.replace("path: out/nas", "path: afile");
    assert_eq!(
        d.problem(&yaml).2,
        format!(
            "destinations[0].path: {} is not a folder",
            d.join("afile").display()
        )
    );
}

#[test]
fn copies_inside_a_watched_folder_are_refused() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("path: out/nas", "path: acq/nas");
    let message = format!(
        "destination `nas`: {} is inside the folder watched at line 4; its copies would be picked up as new acquisitions",
        d.join("acq/nas").display()
    );
    assert_eq!(d.problem(&yaml), at(8, 11, &message));
}

#[test]
fn version_must_be_one() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("version: 1", "version: 2");
    assert_eq!(
        d.problem(&yaml),
        at(1, 10, "version: this scopeflow reads version 1, found 2")
    );
}

#[test]
fn bad_glob() {
    let d = Dir::new();
    let yaml = MINIMAL.replace(
        "  - path: acq\n",
        "  - path: acq\n    include: ['[abc', '**/*.tif']\n",
    );
    assert_eq!(
        d.problem(&yaml),
        at(
            5,
            15,
            "watch[0].include[0]: bad glob \"[abc\": unclosed character class; missing ']'"
        )
    );
}

#[test]
fn steps() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}steps: [metadata, qa, {{qc: {{x: 1}}}}, convert, convert]\n");
    assert_eq!(
        d.problems(&yaml),
        [
            at(
                9,
                19,
                "steps[1]: unknown step `qa`; known steps: naming, metadata, qc, convert"
            ),
            at(9, 28, "steps[2].qc: `qc` takes no options"),
            at(
                9,
                46,
                "steps[4]: `convert` is already steps[3]; list each step once"
            ),
        ]
    );
}

#[test]
fn convert_options_follow_the_command_line_rules() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}steps: [{{convert: {{ngff: 0.4, shard_yx: 1024, chunk_yx: 3, codec: none, level: 3, levels: 0}}}}]\n"
    );
    assert_eq!(
        d.problems(&yaml),
        [
            at(
                9,
                41,
                "steps[0].convert.shard_yx: needs ngff 0.5 (Zarr v2 has no sharding)"
            ),
            at(
                9,
                57,
                "steps[0].convert.chunk_yx: must be an even number, found 3"
            ),
            at(9, 80, "steps[0].convert.level: codec `none` takes no level"),
            at(
                9,
                91,
                "steps[0].convert.levels: must be at least 1, found 0"
            ),
        ]
    );
    let yaml = format!(
        "{MINIMAL}steps: [metadata, {{convert: {{ngff: 0.4, levels: auto, level: 22}}}}]\n"
    );
    let p = d.parse(&yaml).unwrap();
    match &p.steps[1] {
        scopeflow_pipeline::Step::Convert(c) => {
            assert_eq!(
                (c.ngff.as_str(), c.levels, c.level, c.chunk_yx),
                ("0.4", scopeflow_core::Levels::Auto, Some(22), 512)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn repeated_key() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("name: t\n", "name: t\nname: u\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            3,
            1,
            "the top level: key `name` is repeated (first at line 2); keep one"
        )
    );
}

#[test]
fn syntax_error_stops_early_with_its_position() {
    let d = Dir::new();
    assert_eq!(
        d.problem("version: 1\nname: [a\n"),
        at(2, 7, "unclosed bracket '['")
    );
}

#[test]
fn empty_and_non_map_files() {
    let d = Dir::new();
    let empty = at(
        1,
        1,
        "the file is empty: a pipeline needs at least version, name, watch and destinations",
    );
    assert_eq!(d.problem(""), empty);
    assert_eq!(d.problem("# only a comment\n"), empty);
    assert_eq!(
        d.problem("- a\n- b\n"),
        at(1, 1, "the file: expected a map of keys, found a list")
    );
}

#[test]
fn retention_rules() {
    let d = Dir::new();
    let yaml =
        format!("{MINIMAL}retention:\n  mode: trash\n  min_copies: 3\n  require_verified: []\n");
    assert_eq!(
        d.problems(&yaml),
        [
            at(
                10,
                3,
                "retention: mode: trash needs `trash_path`, the folder files are moved to"
            ),
            at(
                11,
                15,
                "retention.min_copies: 3 copies cannot be reached with 1 destination(s); nothing would ever be purged"
            ),
            at(
                12,
                21,
                "retention.require_verified: must name at least one destination (leave it out to require all of them); purging with no verified copy would lose data"
            ),
        ]
    );
}

#[test]
fn aliases_are_blamed_where_they_are_used() {
    let d = Dir::new();
    let yaml = MINIMAL.replace(
        "  - path: acq\n",
        "  - path: acq\n    settle: &s 5x\n    rescan: *s\n",
    );
    assert_eq!(
        d.problems(&yaml),
        [
            at(
                5,
                16,
                "watch[0].settle: duration `5x` has an unknown unit `x`: use ms, s, m, h or d"
            ),
            at(
                6,
                13,
                "watch[0].rescan: duration `5x` has an unknown unit `x`: use ms, s, m, h or d"
            ),
        ]
    );
}

#[test]
fn unreadable_file_is_reported_at_the_start() {
    let d = Dir::new();
    let path = d.join("absent.yaml");
    let e = scopeflow_pipeline::load(&path).unwrap_err();
    assert_eq!(e.file, path);
    assert_eq!((e.errors[0].line, e.errors[0].column), (1, 1));
    assert!(e.to_string().starts_with(&format!(
        "{}:1:1: cannot read the pipeline file: ",
        path.display()
    )));
}

/// Files edited on the acquisition PCs (Windows) arrive with CRLF line ends and often a BOM.
#[test]
fn windows_line_ends_and_bom_keep_positions() {
    let d = Dir::new();
    let yaml = MINIMAL.replace("  - path: acq\n", "  - path: acq\n    poll: yes\n");
    let expected = at(
        5,
        11,
        "watch[0].poll: expected true or false, found \"yes\"",
    );
    assert_eq!(d.problem(&yaml.replace('\n', "\r\n")), expected);
    assert_eq!(d.problem(&format!("\u{feff}{yaml}")), expected);
    assert!(
        d.parse(&format!("\u{feff}{}", MINIMAL.replace('\n', "\r\n")))
            .is_ok()
    );
}

#[test]
fn merge_keys_share_settings_between_destinations() {
    let d = Dir::new();
    let yaml = "\
version: 1
name: t
watch: [{path: acq}]
destinations:
  - &sftp
    name: a
    kind: sftp
    url: sftp://h/x
    identity: keys/id
    known_hosts: keys/known_hosts
  - <<: *sftp
    name: b
    url: sftp://h2/x
";
    let p = d.parse(yaml).unwrap();
    let names: Vec<&str> = p.destinations.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}
