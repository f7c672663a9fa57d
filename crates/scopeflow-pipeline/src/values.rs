//! Single YAML values read as the types the model wants. Each failure becomes one problem at
//! the value's position, and the caller carries on with the rest of the file.

use std::path::PathBuf;
use std::time::Duration;

use crate::duration::parse_duration;
use crate::node::{Node, Pos, Value};
use crate::reader::Reader;

/// Longest path accepted, in bytes: Windows' limit for extended paths (32,767 characters).
/// Anything longer is a mistake (or an attack) that would otherwise surface much later as an
/// odd error from the file system.
pub(crate) const MAX_PATH_BYTES: usize = 32_767;

/// A text value. A NUL byte is refused in every one: no path, URL, name or pattern can hold
/// it (the C APIs underneath would cut the text there and use another file than written).
pub(crate) fn string(node: &Node, pos: Pos, key: &str, r: &mut Reader) -> Option<String> {
    match &node.value {
        Value::Str(s) if s.contains('\0') => {
            let at = s.chars().take_while(|&c| c != '\0').count() + 1;
            r.error(
                pos,
                format!(
                    "{key}: contains a NUL byte (character {at}), which no path or setting may hold"
                ),
            );
            None
        }
        Value::Str(s) => Some(s.clone()),
        // `prefix: 2024` or `ngff: 0.5` mean the text; quoting them is a YAML detail.
        Value::Int(_) | Value::Float(_) => node.scalar_text(),
        _ => {
            r.error(
                pos,
                format!("{key}: expected a string, found {}", node.describe()),
            );
            None
        }
    }
}

pub(crate) fn boolean(node: &Node, pos: Pos, key: &str, r: &mut Reader) -> Option<bool> {
    if let Value::Bool(b) = node.value {
        return Some(b);
    }
    r.error(
        pos,
        format!("{key}: expected true or false, found {}", node.describe()),
    );
    None
}

pub(crate) fn duration(node: &Node, pos: Pos, key: &str, r: &mut Reader) -> Option<Duration> {
    let message = match &node.value {
        Value::Str(s) => match parse_duration(s) {
            Ok(d) => return Some(d),
            Err(e) => e,
        },
        Value::Int(n) => format!(
            "expected a duration like 30s, found {n} (add a unit: {n}s, {n}m, {n}h or {n}d)"
        ),
        _ => format!("expected a duration like 30s, found {}", node.describe()),
    };
    r.error(pos, format!("{key}: {message}"));
    None
}

/// A whole number of at least `min`, fitting `T`.
pub(crate) fn whole<T: TryFrom<i128>>(
    node: &Node,
    pos: Pos,
    key: &str,
    min: i128,
    r: &mut Reader,
) -> Option<T> {
    let Value::Int(n) = node.value else {
        r.error(
            pos,
            format!("{key}: expected a whole number, found {}", node.describe()),
        );
        return None;
    };
    if n < min {
        r.error(pos, format!("{key}: must be at least {min}, found {n}"));
        return None;
    }
    match T::try_from(n) {
        Ok(v) => Some(v),
        Err(_) => {
            r.error(pos, format!("{key}: {n} is too large"));
            None
        }
    }
}

/// A non-empty path, resolved against the pipeline file's folder.
pub(crate) fn path(node: &Node, pos: Pos, key: &str, r: &mut Reader) -> Option<PathBuf> {
    let text = string(node, pos, key, r)?;
    if text.is_empty() {
        r.error(
            pos,
            format!("{key}: expected a path, found an empty string"),
        );
        return None;
    }
    if text.len() > MAX_PATH_BYTES {
        r.error(
            pos,
            format!(
                "{key}: path is {} bytes long; the longest accepted is {MAX_PATH_BYTES} (Windows' limit)",
                text.len()
            ),
        );
        return None;
    }
    Some(r.resolve(&text))
}

/// The name of an environment variable. Never echoed back: someone who pasted the secret
/// itself here must not find it in a log.
pub(crate) fn env_name(node: &Node, pos: Pos, key: &str, r: &mut Reader) -> Option<String> {
    let Value::Str(s) = &node.value else {
        r.error(
            pos,
            format!(
                "{key}: expected the name of an environment variable, found {}",
                kind_only(node)
            ),
        );
        return None;
    };
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(s.clone());
    }
    r.error(
        pos,
        format!(
            "{key}: must be the name of an environment variable (letters, digits and _, like S3_SECRET_KEY), not the secret itself"
        ),
    );
    None
}

/// Like [`Node::describe`] but without the value, for keys that may hold secrets.
fn kind_only(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Int(_) | Value::Float(_) => "a number",
        Value::Str(_) => "a string",
        Value::Seq(_) => "a list",
        Value::Map(_) => "a map",
    }
}

pub(crate) fn list<'n>(node: &'n Node, pos: Pos, key: &str, r: &mut Reader) -> Option<&'n [Node]> {
    if let Value::Seq(items) = &node.value {
        return Some(items);
    }
    let example = match &node.value {
        Value::Str(s) => format!(" like [{s}]"),
        _ => String::new(),
    };
    r.error(
        pos,
        format!("{key}: expected a list{example}, found {}", node.describe()),
    );
    None
}

/// A list of strings; items that are not strings are reported one by one.
pub(crate) fn strings(
    node: &Node,
    pos: Pos,
    key: &str,
    r: &mut Reader,
) -> Option<Vec<(String, Pos)>> {
    let items = list(node, pos, key, r)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if let Some(s) = string(item, item.pos, &format!("{key}[{i}]"), r) {
            out.push((s, item.pos));
        }
    }
    Some(out)
}

/// Names of pipelines and destinations end up in folder names, journal rows and server
/// queries, so they keep to characters that are safe in all three.
pub(crate) fn name(node: &Node, pos: Pos, key: &str, r: &mut Reader) -> Option<String> {
    let s = string(node, pos, key, r)?;
    if s.is_empty() {
        r.error(pos, format!("{key}: must not be empty"));
        return None;
    }
    if s.chars().all(|c| c == '.') {
        r.error(pos, format!("{key}: {s:?} is not usable as a name"));
        return None;
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        r.error(
            pos,
            format!("{key}: {s:?} may hold only letters, digits, '.', '_' and '-', not {bad:?}"),
        );
        return None;
    }
    Some(s)
}
