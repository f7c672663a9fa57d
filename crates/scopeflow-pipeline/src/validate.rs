//! Checks across the whole pipeline, run on what the readers found even when parts of the
//! file were wrong, so one run reports every problem.

use std::path::{Component, Path, PathBuf};

use crate::reader::{Reader, Sites};

pub(crate) fn check_all(sites: &Sites, r: &mut Reader) {
    check_names(sites, r);
    check_retention_requires_verified_destination(sites, r);
    check_min_copies(sites, r);
    check_watched_folders(sites, r);
    check_outputs_outside_watched(sites, r);
}

/// Destination names are how retention and the journal refer to copies.
fn check_names(sites: &Sites, r: &mut Reader) {
    for (i, (name, pos, key)) in sites.destinations.iter().enumerate() {
        if let Some((_, first, first_key)) =
            sites.destinations[..i].iter().find(|(n, ..)| n == name)
        {
            r.error(
                *pos,
                format!(
                    "{key}.name: `{name}` is already the name of {first_key} (line {}); names must be unique",
                    first.line
                ),
            );
        }
    }
}

/// A misspelt name here would make retention wait forever for a copy nobody makes.
fn check_retention_requires_verified_destination(sites: &Sites, r: &mut Reader) {
    let mut defined: Vec<&str> = Vec::new();
    for (name, ..) in &sites.destinations {
        if !defined.contains(&name.as_str()) {
            defined.push(name);
        }
    }
    for (i, (name, pos)) in sites.required.iter().enumerate() {
        if !defined.contains(&name.as_str()) {
            let list = if defined.is_empty() {
                "none".to_owned()
            } else {
                defined.join(", ")
            };
            r.error(
                *pos,
                format!("retention.require_verified[{i}]: `{name}` is not a destination (destinations: {list})"),
            );
        }
    }
}

fn check_min_copies(sites: &Sites, r: &mut Reader) {
    let count = sites.destinations.len();
    if let Some((n, pos)) = sites.min_copies
        && usize::try_from(n).is_ok_and(|n| n > count)
    {
        r.error(
            pos,
            format!("retention.min_copies: {n} copies cannot be reached with {count} destination(s); nothing would ever be purged"),
        );
    }
}

/// A folder watched twice (or inside another) would have its files processed twice, under
/// two different relative paths.
fn check_watched_folders(sites: &Sites, r: &mut Reader) {
    for (i, (path, pos)) in sites.watched.iter().enumerate() {
        let here = lexical(path);
        for (other, other_pos) in &sites.watched[..i] {
            let other = lexical(other);
            let problem = if here == other {
                "is already watched"
            } else if here.starts_with(&other) {
                "is inside the folder watched"
            } else if other.starts_with(&here) {
                "contains the folder watched"
            } else {
                continue;
            };
            r.error(
                *pos,
                format!(
                    "watch: {} {problem} at line {}; its files would be processed twice",
                    path.display(),
                    other_pos.line
                ),
            );
        }
    }
}

/// Copies written inside a watched folder would come back as new acquisitions, forever.
fn check_outputs_outside_watched(sites: &Sites, r: &mut Reader) {
    for (out, pos, label) in &sites.outputs {
        let out_lexical = lexical(out);
        for (watched, watched_pos) in &sites.watched {
            if out_lexical.starts_with(lexical(watched)) {
                r.error(
                    *pos,
                    format!(
                        "{label}: {} is inside the folder watched at line {}; its copies would be picked up as new acquisitions",
                        out.display(),
                        watched_pos.line
                    ),
                );
            }
        }
    }
}

/// `a/b/../c` as `a/c`, for comparing paths that may not exist yet. Symlinks can make this
/// wrong, which here only costs a missed warning, never a false one on real setups.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
