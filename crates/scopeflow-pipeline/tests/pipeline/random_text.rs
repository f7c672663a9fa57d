//! Whatever text is given, the check answers with a pipeline or with positioned problems;
//! it never panics.

use proptest::prelude::*;

use crate::util::{Dir, MINIMAL};

/// Fragments that steer random text towards YAML structure and the pipeline's own keys,
/// where the interesting code paths are.
const PIECES: &[&str] = &[
    "version",
    "name",
    "watch",
    "path",
    "settle",
    "steps",
    "convert",
    "destinations",
    "kind",
    "sftp",
    "s3",
    "local",
    "retention",
    "require_verified",
    "server",
    "password",
    "url",
    "sftp://",
    "5s",
    "60d",
    "acq",
    "out/nas",
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "\"",
    "'",
    "#",
    "!!str ",
    "~",
    "null",
    "true",
    "0.5",
    "-1",
    "**/*.tif",
    "[abc",
    "?",
    "|",
    ">",
    "\t",
    "é",
    "\u{feff}",
];

fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(PIECES).prop_map(str::to_owned),
        1 => "[ -~]{0,6}",
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in yamlish()) {
        let d = Dir::new();
        if let Err(e) = d.parse(&text) {
            prop_assert!(!e.errors.is_empty());
            for err in &e.errors {
                prop_assert!(err.line >= 1 && err.column >= 1, "{err:?}");
                prop_assert!(!err.message.is_empty());
            }
        }
    }

    #[test]
    fn valid_file_with_random_tail_never_panics(tail in yamlish()) {
        let d = Dir::new();
        let text = format!("{MINIMAL}{tail}");
        if let Err(e) = d.parse(&text) {
            prop_assert!(!e.errors.is_empty());
            let lines = text.lines().count().max(1);
            for err in &e.errors {
                prop_assert!(err.line >= 1 && err.line <= lines + 1, "{err:?} in {lines} lines");
            }
        }
    }
}
