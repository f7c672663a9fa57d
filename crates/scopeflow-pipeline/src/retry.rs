//! How often a failing file is tried again before it is quarantined.

use std::time::Duration;

use crate::duration::format_duration;
use crate::fields::Fields;
use crate::node::Node;
use crate::reader::Reader;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Tries before a file is quarantined; default 5.
    pub max_attempts: u32,
    /// Wait after the first failure, doubled after each further one; default 30s.
    pub backoff: Duration,
    /// Ceiling for the doubled wait; default 1h.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 5,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

const KEYS: &[&str] = &["max_attempts", "backoff", "max_backoff"];

pub(crate) fn read_retry(node: &Node, r: &mut Reader) -> Retry {
    let mut out = Retry::default();
    let Some(f) = Fields::read(node, "retry", r) else {
        return out;
    };
    f.allow(KEYS, r);
    if let Some(n) = f.whole::<u32>("max_attempts", 1, r) {
        out.max_attempts = n;
    }
    if let Some(d) = f.duration("backoff", r) {
        out.backoff = d;
    }
    if let Some(d) = f.duration("max_backoff", r) {
        out.max_backoff = d;
    }
    if out.max_backoff < out.backoff {
        let (backoff, max) = (
            format_duration(out.backoff),
            format_duration(out.max_backoff),
        );
        match (f.get("max_backoff"), f.get("backoff")) {
            (Some((_, pos)), _) => r.error(pos, format!("retry.max_backoff: {max} is shorter than backoff ({backoff})")),
            (None, Some((_, pos))) => r.error(
                pos,
                format!("retry.backoff: {backoff} is longer than max_backoff ({max}, the default); raise max_backoff too"),
            ),
            (None, None) => {}
        }
    }
    out
}
