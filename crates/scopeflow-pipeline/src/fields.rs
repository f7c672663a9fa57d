//! A YAML map read as a set of named fields: unknown, repeated and secret-bearing keys are
//! reported here, once, for every map in the file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::node::{Node, Pos, Value};
use crate::reader::Reader;
use crate::values;

pub(crate) struct Fields<'n> {
    /// Key path of the map itself (`watch[0]`), empty at the top level.
    path: String,
    pos: Pos,
    entries: Vec<Entry<'n>>,
}

struct Entry<'n> {
    key: String,
    key_pos: Pos,
    value: &'n Node,
}

/// Keys that would put a secret in the file, and the form to use instead. The file is meant
/// to be copied around, committed and printed in bug reports.
const SECRETS: &[(&str, &str)] = &[
    ("password", "password_env"),
    ("passphrase", "password_env"),
    ("access_key", "access_key_env"),
    ("access_key_id", "access_key_env"),
    ("secret_key", "secret_key_env"),
    ("secret_access_key", "secret_key_env"),
    ("token", "token_file"),
];

impl<'n> Fields<'n> {
    /// `None` (one problem reported) when `node` is not a map. An empty value reads as an
    /// empty map, so `retention:` alone means "all defaults".
    pub fn read(node: &'n Node, path: &str, r: &mut Reader) -> Option<Fields<'n>> {
        let pairs: &[(Node, Node)] = match &node.value {
            Value::Map(pairs) => pairs,
            Value::Null => &[],
            _ => {
                let what = if path.is_empty() { "the file" } else { path };
                r.error(
                    node.pos,
                    format!("{what}: expected a map of keys, found {}", node.describe()),
                );
                return None;
            }
        };
        let mut entries: Vec<Entry<'n>> = Vec::with_capacity(pairs.len());
        // Index of each key's first entry: a linear scan per key made a file with 100k
        // (unknown) keys take seconds to check.
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(pairs.len());
        for (key, value) in pairs {
            let Some(text) = key
                .scalar_text()
                .filter(|_| !matches!(key.value, Value::Null))
            else {
                r.error(
                    key.pos,
                    format!(
                        "{}: keys must be plain names, found {}",
                        where_(path),
                        key.describe()
                    ),
                );
                continue;
            };
            if let Some(&first) = seen.get(&text) {
                let first = &entries[first];
                r.error(
                    key.pos,
                    format!(
                        "{}: key `{text}` is repeated (first at line {}); keep one",
                        where_(path),
                        first.key_pos.line
                    ),
                );
                continue;
            }
            seen.insert(text.clone(), entries.len());
            entries.push(Entry {
                key: text,
                key_pos: key.pos,
                value,
            });
        }
        Some(Fields {
            path: path.to_owned(),
            pos: node.pos,
            entries,
        })
    }

    /// How the map is named in messages (`destinations[1]`, `the top level`).
    pub fn label(&self) -> &str {
        where_(&self.path)
    }

    pub fn pos(&self) -> Pos {
        self.pos
    }

    /// Reports every key not in `allowed`, naming the ones that are.
    pub fn allow(&self, allowed: &[&str], r: &mut Reader) {
        for e in &self.entries {
            if allowed.contains(&e.key.as_str()) {
                continue;
            }
            let key = self.key_path(&e.key);
            if let Some((_, instead)) = SECRETS.iter().find(|(k, _)| *k == e.key) {
                let hint = if instead.ends_with("_file") {
                    "a file that holds it"
                } else {
                    "the name of an environment variable that holds it"
                };
                r.error(
                    e.key_pos,
                    format!(
                        "{key}: secrets never go in the pipeline file; use `{instead}` with {hint}"
                    ),
                );
                continue;
            }
            let near = closest(&e.key, allowed)
                .map(|k| format!("did you mean `{k}`? "))
                .unwrap_or_default();
            let place = if self.path.is_empty() {
                "at the top level".to_owned()
            } else {
                format!("in {}", self.path)
            };
            r.error(
                e.key_pos,
                format!(
                    "unknown key `{}` {place}; {near}allowed: {}",
                    e.key,
                    allowed.join(", ")
                ),
            );
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    /// The value and the position to blame for it: the key when the value is empty, since
    /// an empty value has no text of its own to point at.
    pub fn get(&self, key: &str) -> Option<(&'n Node, Pos)> {
        let e = self.entries.iter().find(|e| e.key == key)?;
        let pos = if matches!(e.value.value, Value::Null) {
            e.key_pos
        } else {
            e.value.pos
        };
        Some((e.value, pos))
    }

    /// Position of the key itself, for problems about the key being there at all.
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.key_pos)
    }

    /// Missing keys are blamed on the map that lacks them.
    pub fn require(&self, key: &str, r: &mut Reader) -> Option<(&'n Node, Pos)> {
        let found = self.get(key);
        if found.is_none() {
            r.error(
                self.pos,
                format!("{}: missing required key `{key}`", where_(&self.path)),
            );
        }
        found
    }

    pub fn string(&self, key: &str, r: &mut Reader) -> Option<String> {
        let (node, pos) = self.get(key)?;
        values::string(node, pos, &self.key_path(key), r)
    }

    pub fn required_string(&self, key: &str, r: &mut Reader) -> Option<String> {
        let (node, pos) = self.require(key, r)?;
        values::string(node, pos, &self.key_path(key), r)
    }

    pub fn boolean(&self, key: &str, r: &mut Reader) -> Option<bool> {
        let (node, pos) = self.get(key)?;
        values::boolean(node, pos, &self.key_path(key), r)
    }

    pub fn duration(&self, key: &str, r: &mut Reader) -> Option<Duration> {
        let (node, pos) = self.get(key)?;
        values::duration(node, pos, &self.key_path(key), r)
    }

    pub fn whole<T: TryFrom<i128>>(&self, key: &str, min: i128, r: &mut Reader) -> Option<T> {
        let (node, pos) = self.get(key)?;
        values::whole(node, pos, &self.key_path(key), min, r)
    }

    pub fn path(&self, key: &str, r: &mut Reader) -> Option<(PathBuf, Pos)> {
        let (node, pos) = self.get(key)?;
        values::path(node, pos, &self.key_path(key), r).map(|p| (p, pos))
    }

    pub fn required_path(&self, key: &str, r: &mut Reader) -> Option<(PathBuf, Pos)> {
        let (node, pos) = self.require(key, r)?;
        values::path(node, pos, &self.key_path(key), r).map(|p| (p, pos))
    }

    pub fn env_name(&self, key: &str, r: &mut Reader) -> Option<String> {
        let (node, pos) = self.get(key)?;
        values::env_name(node, pos, &self.key_path(key), r)
    }

    pub fn required_env_name(&self, key: &str, r: &mut Reader) -> Option<String> {
        let (node, pos) = self.require(key, r)?;
        values::env_name(node, pos, &self.key_path(key), r)
    }

    pub fn strings(&self, key: &str, r: &mut Reader) -> Option<Vec<(String, Pos)>> {
        let (node, pos) = self.get(key)?;
        values::strings(node, pos, &self.key_path(key), r)
    }
}

/// How a map is named in messages.
fn where_(path: &str) -> &str {
    if path.is_empty() {
        "the top level"
    } else {
        path
    }
}

/// The allowed key a typo most likely meant: at most two edits away, and fewer than half
/// the key's length, so unrelated short keys are not suggested.
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let len = key.chars().count();
    allowed
        .iter()
        // The distance is at least the difference in length: most unknown keys are skipped
        // without computing it (a file of 100k unknown keys spent most of its check here).
        .filter(|a| a.chars().count().abs_diff(len) <= 2)
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, _)| *d <= 2 && *d * 2 < key.chars().count().max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replace = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = replace.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        let allowed = ["path", "include", "settle", "poll", "poll_interval"];
        assert_eq!(closest("setle", &allowed), Some("settle"));
        assert_eq!(closest("includes", &allowed), Some("include"));
        assert_eq!(closest("xyz", &allowed), None);
        assert_eq!(closest("p", &allowed), None);
    }
}
