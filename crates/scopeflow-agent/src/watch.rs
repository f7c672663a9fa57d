//! Change notification. Events say "look again" and when a path last changed: the scan
//! decides what changed, so a missed, merged or duplicated event costs at most a later
//! settle. Native events (inotify, ReadDirectoryChangesW, FSEvents) where they work; polling
//! for NFS/SMB shares, where they stay silent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

/// When each path last changed, as far as events tell: an event is delivered after the write
/// it reports, so its arrival time is a moment at which the file was already as the write left
/// it. Settling counts from there instead of from the next scan (up to a tick later).
#[derive(Default)]
pub struct Changes {
    wake: Notify,
    last: Mutex<HashMap<PathBuf, Instant>>,
    /// The system dropped events (queue overflow, watch error): what was drained since cannot
    /// tell when a file last changed, so the next drain gives nothing and scans time it.
    lost: AtomicBool,
}

impl Changes {
    pub fn wake(&self) -> &Notify {
        &self.wake
    }

    fn record(&self, res: &notify::Result<notify::Event>) {
        let now = Instant::now();
        match res {
            // Opening a file or a folder changes nothing, and our own scans and reads open
            // them: waking on those would rescan every tick for as long as the agent runs.
            Ok(event) if reads_only(&event.kind) => return,
            Ok(event) if !event.need_rescan() => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                for path in &event.paths {
                    last.insert(path.clone(), now);
                }
            }
            _ => self.lost.store(true, Ordering::SeqCst),
        }
        self.wake.notify_one();
    }

    /// The events since the last drain, latest per path; empty when some may have been lost.
    pub fn drain(&self) -> HashMap<PathBuf, Instant> {
        let last = std::mem::take(&mut *self.last.lock().unwrap_or_else(|p| p.into_inner()));
        if self.lost.swap(false, Ordering::SeqCst) {
            return HashMap::new();
        }
        last
    }
}

/// Events that report a read (inotify's open and close-without-write), not a change.
fn reads_only(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
}

/// Keeps the watchers alive; dropping it stops them.
pub struct Watchers {
    _native: Vec<RecommendedWatcher>,
    _poll: Vec<PollWatcher>,
}

/// Starts one watcher per watch entry; each event is recorded in `changes` and wakes its
/// scheduler.
///
/// # Errors
/// A folder cannot be watched (it is then still found by the periodic rescan; the caller logs).
pub fn start(
    entries: &[(std::path::PathBuf, bool, Duration)],
    changes: Arc<Changes>,
) -> notify::Result<Watchers> {
    let mut native = Vec::new();
    let mut poll = Vec::new();
    for (path, use_poll, interval) in entries {
        let c = changes.clone();
        let handler = move |res: notify::Result<notify::Event>| c.record(&res);
        if *use_poll {
            let config = notify::Config::default().with_poll_interval(*interval);
            let mut watcher = PollWatcher::new(handler, config)?;
            watcher.watch(path, RecursiveMode::Recursive)?;
            poll.push(watcher);
        } else {
            let mut watcher = RecommendedWatcher::new(handler, notify::Config::default())?;
            watcher.watch(path, RecursiveMode::Recursive)?;
            native.push(watcher);
        }
    }
    Ok(Watchers {
        _native: native,
        _poll: poll,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind};
    use std::path::Path;

    #[test]
    fn opens_wake_nothing_writes_do() {
        let changes = Changes::default();
        let event = |kind| Ok(notify::Event::new(kind).add_path(PathBuf::from("/acq/a.tif")));
        changes.record(&event(EventKind::Access(AccessKind::Open(AccessMode::Any))));
        changes.record(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Read,
        ))));
        assert!(
            changes.drain().is_empty(),
            "our own scans and reads open files"
        );
        changes.record(&event(EventKind::Access(AccessKind::Close(
            AccessMode::Write,
        ))));
        assert!(changes.drain().contains_key(Path::new("/acq/a.tif")));
        changes.record(&event(EventKind::Create(CreateKind::File)));
        changes.record(&event(EventKind::Modify(ModifyKind::Any)));
        assert_eq!(changes.drain().len(), 1, "latest per path");
    }

    #[test]
    fn after_lost_events_scans_time_the_changes() {
        let changes = Changes::default();
        let path = PathBuf::from("/acq/a.tif");
        changes.record(&Ok(
            notify::Event::new(EventKind::Any).add_path(path.clone())
        ));
        changes.record(&Err(notify::Error::generic("queue overflow")));
        assert!(changes.drain().is_empty());
        changes.record(&Ok(notify::Event::new(EventKind::Any).add_path(path)));
        assert_eq!(changes.drain().len(), 1, "trusted again after the drain");
    }
}
