//! "Finished writing" as far as anyone can tell from outside: size and mtime unchanged for
//! `settle`, and the file opens for reading (microscope software on Windows holds an exclusive
//! lock while it writes). Kept in memory: after a restart a file simply settles again.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Settle {
    /// Files settling: size, mtime, since when unchanged, and their journal row (which holds
    /// this size and mtime: a scan that sees them again need not ask the journal).
    seen: HashMap<(usize, String), (u64, i64, Instant, i64)>,
    /// Files the journal holds past `discovered`, at this size and mtime: rescans skip them
    /// (no journal query per file per tick) until either changes.
    settled: HashMap<(usize, String), (u64, i64)>,
}

impl Settle {
    /// Records an observation of journal row `id`; true when the file has not changed for
    /// `settle`.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        watch: usize,
        rel: &str,
        size: u64,
        mtime_ns: i64,
        id: i64,
        settle: Duration,
        now: Instant,
    ) -> bool {
        let entry = self
            .seen
            .entry((watch, rel.to_string()))
            .or_insert((size, mtime_ns, now, id));
        if entry.0 != size || entry.1 != mtime_ns || entry.3 != id {
            *entry = (size, mtime_ns, now, id);
        }
        now.duration_since(entry.2) >= settle
    }

    /// The journal row of a settling file last seen at this size and mtime.
    pub fn known(&self, watch: usize, rel: &str, size: u64, mtime_ns: i64) -> Option<i64> {
        self.seen
            .get(&(watch, rel.to_string()))
            .filter(|e| e.0 == size && e.1 == mtime_ns)
            .map(|e| e.3)
    }

    /// The journal has this file past `discovered` at `size` and `mtime_ns`.
    pub fn settled(&mut self, watch: usize, rel: &str, size: u64, mtime_ns: i64) {
        let key = (watch, rel.to_string());
        self.seen.remove(&key);
        self.settled.insert(key, (size, mtime_ns));
    }

    /// True when the file is known settled and unchanged since: nothing to ask the journal.
    pub fn is_settled(&self, watch: usize, rel: &str, size: u64, mtime_ns: i64) -> bool {
        self.settled.get(&(watch, rel.to_string())) == Some(&(size, mtime_ns))
    }
}

/// Whether no other program still holds the file open for writing.
///
/// On Windows the probe shares reading and deletion but not writing, so it fails with a
/// sharing violation while any other handle can write the file, whatever sharing that writer
/// allows readers (a plain open would succeed next to a writer that shares reading). It is
/// closed at once, so it never blocks the writer. Elsewhere there are no such locks: an open
/// for reading only fails when the file is unreadable.
pub fn opens_for_reading(path: &Path) -> bool {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt as _;
        const FILE_SHARE_READ: u32 = 0x1;
        const FILE_SHARE_DELETE: u32 = 0x4;
        options.share_mode(FILE_SHARE_READ | FILE_SHARE_DELETE);
    }
    options.open(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_restarts_the_clock() {
        let mut s = Settle::default();
        let t0 = Instant::now();
        let settle = Duration::from_secs(2);
        assert!(!s.observe(0, "a", 1, 1, 9, settle, t0));
        assert_eq!(s.known(0, "a", 1, 1), Some(9));
        assert!(!s.observe(0, "a", 1, 1, 9, settle, t0 + Duration::from_secs(1)));
        assert!(!s.observe(0, "a", 2, 1, 9, settle, t0 + Duration::from_secs(3)));
        assert_eq!(
            s.known(0, "a", 1, 1),
            None,
            "changed: ask the journal again"
        );
        assert!(!s.observe(0, "a", 2, 1, 9, settle, t0 + Duration::from_secs(4)));
        assert!(s.observe(0, "a", 2, 1, 9, settle, t0 + Duration::from_secs(5)));
    }

    #[test]
    fn settled_files_stay_settled_until_they_change() {
        let mut s = Settle::default();
        s.settled(0, "a", 5, 7);
        assert!(s.is_settled(0, "a", 5, 7));
        assert!(!s.is_settled(0, "a", 6, 7));
        assert!(!s.is_settled(1, "a", 5, 7));
    }
}
