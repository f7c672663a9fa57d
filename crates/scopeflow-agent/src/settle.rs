//! "Finished writing" as far as anyone can tell from outside: size and mtime unchanged for
//! `settle`, and the file opens for reading (microscope software on Windows holds an exclusive
//! lock while it writes). Kept in memory: after a restart a file simply settles again.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Settle {
    /// Files settling, and their journal row (which holds this size and mtime: a scan that
    /// sees them again need not ask the journal).
    seen: HashMap<(usize, String), Settling>,
    /// Files the journal holds past `discovered`, at this size and mtime: rescans skip them
    /// (no journal query per file per tick) until either changes.
    settled: HashMap<(usize, String), (u64, i64)>,
    /// Counts scans, so files no scan sees any more (deleted while settling) are forgotten.
    scan: u64,
    /// The earliest moment a settling file settles, as of the last scan: the loop asks on
    /// every turn, and a plate reader's thousands of settling files change only at scans.
    due: Option<Instant>,
}

struct Settling {
    size: u64,
    mtime_ns: i64,
    id: i64,
    /// Since when the file is known unchanged.
    since: Instant,
    settle: Duration,
    scan: u64,
}

impl Settle {
    /// Starts a scan's observations; call [`Settle::end_scan`] after them.
    pub fn begin_scan(&mut self) {
        self.scan += 1;
    }

    /// Forgets the settling files this scan did not see (gone, or their folder unreadable:
    /// they settle again from scratch if they come back).
    pub fn end_scan(&mut self) {
        let scan = self.scan;
        self.seen.retain(|_, s| s.scan == scan);
        self.due = self.seen.values().map(|s| s.since + s.settle).min();
    }

    /// Records an observation of journal row `id`; true when the file has not changed for
    /// `settle`.
    ///
    /// `event`: when the last file event for this path since the previous scan arrived. A
    /// change this scan sees happened before it (the event comes after the write), and an
    /// event that arrives after an unchanged observation (a write just before the previous
    /// scan, reported just after it) moves the clock forward. Without one, the clock starts
    /// now, which is later than the change: never too early.
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
        event: Option<Instant>,
    ) -> bool {
        // An event cannot be later than the scan that drained it; `min` only guards clocks.
        let event = event.map(|e| e.min(now));
        let key = (watch, rel.to_string());
        let scan = self.scan;
        let entry = match self.seen.get_mut(&key) {
            Some(e) if e.size == size && e.mtime_ns == mtime_ns && e.id == id => {
                if let Some(ev) = event {
                    e.since = e.since.max(ev);
                }
                e
            }
            _ => self
                .seen
                .entry(key)
                .insert_entry(Settling {
                    size,
                    mtime_ns,
                    id,
                    since: event.unwrap_or(now),
                    settle,
                    scan,
                })
                .into_mut(),
        };
        entry.scan = scan;
        entry.settle = settle;
        now.duration_since(entry.since) >= settle
    }

    /// When the first settling file will have been unchanged for its `settle`, as of the
    /// last [`Settle::end_scan`]: a scan then promotes it without waiting for the next tick.
    pub fn next_due(&self) -> Option<Instant> {
        self.due
    }

    /// The journal row of a settling file last seen at this size and mtime.
    pub fn known(&self, watch: usize, rel: &str, size: u64, mtime_ns: i64) -> Option<i64> {
        self.seen
            .get(&(watch, rel.to_string()))
            .filter(|e| e.size == size && e.mtime_ns == mtime_ns)
            .map(|e| e.id)
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
        assert!(!s.observe(0, "a", 1, 1, 9, settle, t0, None));
        assert_eq!(s.known(0, "a", 1, 1), Some(9));
        assert!(!s.observe(0, "a", 1, 1, 9, settle, t0 + Duration::from_secs(1), None));
        assert!(!s.observe(0, "a", 2, 1, 9, settle, t0 + Duration::from_secs(3), None));
        assert_eq!(
            s.known(0, "a", 1, 1),
            None,
            "changed: ask the journal again"
        );
        assert!(!s.observe(0, "a", 2, 1, 9, settle, t0 + Duration::from_secs(4), None));
        assert!(s.observe(0, "a", 2, 1, 9, settle, t0 + Duration::from_secs(5), None));
    }

    #[test]
    fn the_clock_starts_at_the_last_event_and_late_events_move_it() {
        let mut s = Settle::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let settle = Duration::from_secs(1);
        s.begin_scan();
        // Written until t0 (its event), first seen by a scan 200 ms later.
        assert!(!s.observe(0, "a", 1, 1, 9, settle, t0 + ms(200), Some(t0)));
        s.end_scan();
        assert_eq!(s.next_due(), Some(t0 + settle));
        assert!(s.observe(0, "a", 1, 1, 9, settle, t0 + ms(1000), None));
        // A write reported after the scan that saw its result: the clock moves to the event.
        assert!(!s.observe(0, "b", 1, 1, 8, settle, t0 + ms(200), Some(t0)));
        assert!(!s.observe(0, "b", 1, 1, 8, settle, t0 + ms(1000), Some(t0 + ms(300))));
        assert!(s.observe(0, "b", 1, 1, 8, settle, t0 + ms(1300), None));
        // An event never dates a change later than the scan that drained it.
        assert!(!s.observe(0, "c", 1, 1, 7, settle, t0, Some(t0 + ms(500))));
        assert!(s.observe(0, "c", 1, 1, 7, settle, t0 + settle, None));
    }

    #[test]
    fn files_no_scan_sees_are_forgotten() {
        let mut s = Settle::default();
        let t0 = Instant::now();
        let settle = Duration::from_secs(1);
        s.begin_scan();
        s.observe(0, "a", 1, 1, 9, settle, t0, None);
        s.observe(0, "b", 1, 1, 8, settle, t0, None);
        s.end_scan();
        s.begin_scan();
        s.observe(0, "b", 1, 1, 8, settle, t0 + settle / 2, None);
        s.end_scan();
        assert_eq!(s.known(0, "a", 1, 1), None, "deleted while settling");
        assert_eq!(s.known(0, "b", 1, 1), Some(8));
        assert_eq!(s.next_due(), Some(t0 + settle));
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
