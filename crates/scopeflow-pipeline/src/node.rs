//! The YAML document as a tree that remembers where every node was written.
//!
//! Serde stops at the first mismatch, but a pipeline check must report every problem in one
//! run. So serde-saphyr only builds this loose tree (each node wrapped in its `Spanned`
//! location) and the typed model is read from it by hand, collecting errors as it goes.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A 1-based line and column in the YAML file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    /// Used for problems that belong to the whole file (unreadable, empty).
    pub const START: Pos = Pos { line: 1, column: 1 };

    pub fn from_location(loc: Location) -> Pos {
        // serde-saphyr uses line 0 for "unknown"; the start of the file is the least wrong
        // place to point at.
        if loc.line() == 0 {
            return Pos::START;
        }
        Pos {
            line: usize::try_from(loc.line()).unwrap_or(usize::MAX),
            column: usize::try_from(loc.column()).unwrap_or(usize::MAX).max(1),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// How the node reads in a "found ..." message.
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Null => "nothing".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a map".to_owned(),
        }
    }

    /// Text of a scalar used as a map key or a name; `None` for lists and maps.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            // `referenced` is where the user wrote the value, which for an alias is the `*name`
            // token: the place to fix.
            pos: Pos::from_location(spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

/// Why the text is not YAML at all, with serde-saphyr's position for it.
pub(crate) struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Reads the whole document; an empty file reads as `Null`.
pub(crate) fn parse_document(text: &str) -> Result<Node, SyntaxError> {
    use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, UserMessageFormatter};
    let options = serde_saphyr::options! {
        // Repeated keys are reported by the walker, together with everything else.
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        // `yes`/`no`/`on`/`off` stay strings, so `name: no` is a name and not `false`.
        strict_booleans: true,
        // `prefix: 0042` and `name: 1_000` keep their spelling instead of becoming numbers.
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Option<Node>>(text, options) {
        Ok(Some(node)) => Ok(node),
        Ok(None) => Ok(Node {
            pos: Pos::START,
            value: Value::Null,
        }),
        Err(err) => {
            let err = err.without_snippet();
            Err(SyntaxError {
                pos: err.location().map_or(Pos::START, Pos::from_location),
                message: UserMessageFormatter.format_message(err).into_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flatten(node: &Node, out: &mut Vec<String>) {
        out.push(format!(
            "{}:{} {}",
            node.pos.line,
            node.pos.column,
            node.describe()
        ));
        match &node.value {
            Value::Seq(items) => items.iter().for_each(|n| flatten(n, out)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                flatten(k, out);
                flatten(v, out);
            }),
            _ => {}
        }
    }

    #[test]
    fn every_node_keeps_its_position() {
        let text = "a: 1\nb:\n  - x\n  - {c: 0.5, d: yes}\ne:\nf: &x 5s\ng: *x\n\"h\": '007'\n";
        let Ok(node) = parse_document(text) else {
            panic!("not parsed")
        };
        let mut out = Vec::new();
        flatten(&node, &mut out);
        let expected = [
            "1:1 a map",
            "1:1 \"a\"",
            "1:4 1",
            "2:1 \"b\"",
            "3:3 a list",
            "3:5 \"x\"",
            "4:5 a map",
            "4:6 \"c\"",
            "4:9 0.5",
            "4:14 \"d\"",
            "4:17 \"yes\"",
            "5:1 \"e\"",
            "5:2 nothing",
            "6:1 \"f\"",
            "6:7 \"5s\"",
            "7:1 \"g\"",
            "7:4 \"5s\"",
            "8:1 \"h\"",
            "8:6 \"007\"",
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let Err(e) = parse_document("a: [1,\nb: 2\n") else {
            panic!("parsed")
        };
        assert!(e.pos.line >= 1 && e.pos.column >= 1);
        assert!(
            !e.message.contains("line"),
            "position is reported apart: {}",
            e.message
        );
    }

    #[test]
    fn empty_text_is_null() {
        let Ok(node) = parse_document("") else {
            panic!("not parsed")
        };
        assert!(matches!(node.value, Value::Null));
    }
}
