//! "Finished writing" as far as anyone can tell from outside: size and mtime unchanged for
//! `settle`, and the file opens for reading (microscope software on Windows holds an exclusive
//! lock while it writes). Kept in memory: after a restart a file simply settles again.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Settle {
    seen: HashMap<(usize, String), (u64, i64, Instant)>,
}

impl Settle {
    /// Records an observation; true when the file has not changed for `settle`.
    pub fn observe(
        &mut self,
        watch: usize,
        rel: &str,
        size: u64,
        mtime_ns: i64,
        settle: Duration,
        now: Instant,
    ) -> bool {
        let entry = self
            .seen
            .entry((watch, rel.to_string()))
            .or_insert((size, mtime_ns, now));
        if entry.0 != size || entry.1 != mtime_ns {
            *entry = (size, mtime_ns, now);
        }
        now.duration_since(entry.2) >= settle
    }

    pub fn forget(&mut self, watch: usize, rel: &str) {
        self.seen.remove(&(watch, rel.to_string()));
    }
}

/// Whether another program still holds the file open for writing in a way that blocks readers.
pub fn opens_for_reading(path: &Path) -> bool {
    std::fs::File::open(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_restarts_the_clock() {
        let mut s = Settle::default();
        let t0 = Instant::now();
        let settle = Duration::from_secs(2);
        assert!(!s.observe(0, "a", 1, 1, settle, t0));
        assert!(!s.observe(0, "a", 1, 1, settle, t0 + Duration::from_secs(1)));
        assert!(!s.observe(0, "a", 2, 1, settle, t0 + Duration::from_secs(3)));
        assert!(!s.observe(0, "a", 2, 1, settle, t0 + Duration::from_secs(4)));
        assert!(s.observe(0, "a", 2, 1, settle, t0 + Duration::from_secs(5)));
    }
}
