//! Pipeline file tests, one binary (STYLE 10): the shipped examples, bad files with their exact
//! messages and positions, a file with many problems, and random text.

mod all_at_once;
mod bad_files;
mod examples;
mod fair;
mod poison;
mod qc_rules;
mod random_text;
mod util;
