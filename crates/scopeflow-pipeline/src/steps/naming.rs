//! Options of the `naming` step and the rules it applies to raw file names. The rules are the
//! research-data guidance's (an ISO date, portable characters, a bounded length), so that a
//! name still means something once the file sits in a repository far from the lab notebook.
//! The step only judges names: raw files are never renamed.

use crate::fields::Fields;
use crate::node::Node;
use crate::reader::Reader;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NamingMode {
    /// The problems are recorded with the file (QC document, journal); it goes on.
    #[default]
    Warn,
    /// The file is quarantined at once, its error naming the rule.
    Reject,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamingStep {
    pub mode: NamingMode,
    /// Longest file name accepted, in characters; default 128.
    pub max_length: usize,
    /// The name must hold an ISO 8601 date, `YYYYMMDD` or `YYYY-MM-DD`; default true.
    pub require_date: bool,
    /// Required shape of the name without its extensions, like `{date}_{user}_{sample}`.
    pub pattern: Option<NamePattern>,
}

impl Default for NamingStep {
    fn default() -> Self {
        NamingStep {
            mode: NamingMode::Warn,
            max_length: 128,
            require_date: true,
            pattern: None,
        }
    }
}

/// One broken rule: `rule` is the rule's name as the documentation and the error give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamingProblem {
    pub rule: &'static str,
    pub message: String,
}

/// A pattern of literal text and `{field}`s: `{date}` is an ISO date, any other field one
/// or more letters, digits or `-` (not `_` or `.`, which separate fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamePattern {
    pub text: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(Vec<char>),
    Date,
    Field,
}

const KEYS: &[&str] = &["mode", "max_length", "require_date", "pattern"];

/// Characters allowed in a name: portable on every file system and in URLs.
fn portable(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

impl NamingStep {
    /// Every rule `name` (a file name, no folder) breaks, in the order the rules are listed.
    pub fn check(&self, name: &str) -> Vec<NamingProblem> {
        let mut out = Vec::new();
        let bad: Vec<char> = name.chars().filter(|c| !portable(*c)).collect();
        if !bad.is_empty() {
            let mut shown: Vec<char> = Vec::new();
            for c in bad {
                if !shown.contains(&c) {
                    shown.push(c);
                }
            }
            let shown: Vec<String> = shown.iter().map(|c| format!("{c:?}")).collect();
            out.push(NamingProblem {
                rule: "characters",
                message: format!(
                    "only letters, digits, '.', '_' and '-' are allowed; found {}",
                    shown.join(", ")
                ),
            });
        }
        let len = name.chars().count();
        if len > self.max_length {
            out.push(NamingProblem {
                rule: "length",
                message: format!("{len} characters; at most {} are allowed", self.max_length),
            });
        }
        let chars: Vec<char> = name.chars().collect();
        if self.require_date && !(0..chars.len()).any(|i| date_at(&chars, i).is_some()) {
            out.push(NamingProblem {
                rule: "date",
                message: "no ISO date (YYYYMMDD or YYYY-MM-DD) in the name".to_owned(),
            });
        }
        if let Some(p) = &self.pattern {
            let stem = name.split('.').next().unwrap_or(name);
            if !p.matches(stem) {
                out.push(NamingProblem {
                    rule: "pattern",
                    message: format!("{stem:?} does not match {:?}", p.text),
                });
            }
        }
        out
    }
}

/// Length of a valid ISO date starting at `i` that no other digit touches.
fn date_at(chars: &[char], i: usize) -> Option<usize> {
    if i > 0 && chars[i - 1].is_ascii_digit() {
        return None;
    }
    for len in [8, 10] {
        let Some(s) = chars.get(i..i + len) else {
            continue;
        };
        if chars.get(i + len).is_some_and(char::is_ascii_digit) {
            continue;
        }
        let digits: String = if len == 10 {
            if s[4] != '-' || s[7] != '-' {
                continue;
            }
            s.iter().filter(|c| **c != '-').collect()
        } else {
            s.iter().collect()
        };
        if digits.len() != 8 || !digits.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let month: u32 = digits[4..6].parse().ok()?;
        let day: u32 = digits[6..8].parse().ok()?;
        if (1..=12).contains(&month) && (1..=31).contains(&day) {
            return Some(len);
        }
    }
    None
}

impl NamePattern {
    /// `Err` says what is wrong with the pattern itself.
    pub fn parse(text: &str) -> Result<NamePattern, String> {
        let mut parts = Vec::new();
        let mut literal = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '}' {
                return Err("`}` without its `{`".to_owned());
            }
            if c != '{' {
                if !portable(c) {
                    return Err(format!(
                        "{c:?} is not allowed in a name; use letters, digits, '.', '_' and '-'"
                    ));
                }
                literal.push(c);
                continue;
            }
            let mut field = String::new();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '}' {
                    closed = true;
                    break;
                }
                field.push(c);
            }
            if !closed {
                return Err(format!("`{{{field}` is missing its `}}`"));
            }
            if field.is_empty() || !field.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(format!(
                    "`{{{field}}}` is not a field: fields are lowercase names in braces, like {{date}}"
                ));
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(if field == "date" {
                Part::Date
            } else {
                Part::Field
            });
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if parts.is_empty() {
            return Err("the pattern is empty".to_owned());
        }
        Ok(NamePattern {
            text: text.to_owned(),
            parts,
        })
    }

    /// Dynamic programming over (part, position): linear in parts × length, whatever the name.
    pub fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        let n = s.len();
        // reach[i]: the parts so far can end at position i.
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        for part in &self.parts {
            let mut next = vec![false; n + 1];
            for i in (0..=n).filter(|&i| reach[i]) {
                match part {
                    Part::Literal(l) => {
                        if s.get(i..i + l.len()) == Some(l.as_slice()) {
                            next[i + l.len()] = true;
                        }
                    }
                    Part::Date => {
                        for len in [8, 10] {
                            if i + len <= n && date_in(&s[i..i + len]) {
                                next[i + len] = true;
                            }
                        }
                    }
                    Part::Field => {
                        let mut j = i;
                        while j < n && (s[j].is_ascii_alphanumeric() || s[j] == '-') {
                            j += 1;
                            next[j] = true;
                        }
                    }
                }
            }
            reach = next;
        }
        reach[n]
    }
}

/// `s` is exactly one ISO date.
fn date_in(s: &[char]) -> bool {
    date_at(s, 0) == Some(s.len())
}

pub(super) fn read(node: &Node, key: &str, r: &mut Reader) -> Option<NamingStep> {
    let f = Fields::read(node, key, r)?;
    f.allow(KEYS, r);
    let mut step = NamingStep::default();
    if let Some(mode) = f.string("mode", r) {
        match mode.as_str() {
            "warn" => step.mode = NamingMode::Warn,
            "reject" => step.mode = NamingMode::Reject,
            other => {
                if let Some((_, pos)) = f.get("mode") {
                    r.error(
                        pos,
                        format!(
                            "{}: expected warn or reject, found {other:?}",
                            f.key_path("mode")
                        ),
                    );
                }
            }
        }
    }
    if let Some(n) = f.whole::<usize>("max_length", 1, r) {
        step.max_length = n;
    }
    if let Some(b) = f.boolean("require_date", r) {
        step.require_date = b;
    }
    if let Some(text) = f.string("pattern", r) {
        match NamePattern::parse(&text) {
            Ok(p) => step.pattern = Some(p),
            Err(e) => {
                if let Some((_, pos)) = f.get("pattern") {
                    r.error(pos, format!("{}: {e}", f.key_path("pattern")));
                }
            }
        }
    }
    Some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(step: &NamingStep, name: &str) -> Vec<&'static str> {
        step.check(name).iter().map(|p| p.rule).collect()
    }

    #[test]
    fn the_guides_rules() {
        let s = NamingStep::default();
        assert!(rules(&s, "20261204_alice_hela_dapi.tif").is_empty());
        assert!(rules(&s, "2026-12-04_alice.ome.tif").is_empty());
        assert_eq!(rules(&s, "my image (final)!!.tif"), ["characters", "date"]);
        assert_eq!(rules(&s, "20261304_bad_month.tif"), ["date"]);
        assert_eq!(rules(&s, "120261204_too_many_digits.tif"), ["date"]);
        let long = format!("20261204_{}.tif", "a".repeat(120));
        assert_eq!(rules(&s, &long), ["length"]);
        let Some(p) = s.check("a b.tif").into_iter().next() else {
            panic!("no problem")
        };
        assert_eq!(
            p.message,
            "only letters, digits, '.', '_' and '-' are allowed; found ' '"
        );
    }

    #[test]
    fn patterns() {
        let p = NamePattern::parse("{date}_{user}_{sample}_{channel}").unwrap();
        assert!(p.matches("20261204_alice_hela_dapi"));
        assert!(p.matches("2026-12-04_alice_hela-s2_dapi"));
        assert!(!p.matches("20261204_alice_hela"));
        assert!(!p.matches("alice_20261204_hela_dapi"));
        assert!(!p.matches("20261204_alice_hela_dapi_extra"));
        let s = NamingStep {
            pattern: Some(p),
            ..NamingStep::default()
        };
        assert!(rules(&s, "20261204_alice_hela_dapi.ome.tif").is_empty());
        assert_eq!(rules(&s, "20261204_alice.tif"), ["pattern"]);
        assert!(NamePattern::parse("{Date}").is_err());
        assert!(NamePattern::parse("a b").is_err());
        assert!(NamePattern::parse("x}").is_err());
        assert!(NamePattern::parse("").is_err());
        assert!(NamePattern::parse("{date").is_err());
    }
}
