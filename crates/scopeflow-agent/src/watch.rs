//! Change notification. Events only say "look again": the scan decides what changed, so a
//! missed, merged or duplicated event costs nothing. Native events (inotify, ReadDirectoryChangesW,
//! FSEvents) where they work; polling for NFS/SMB shares, where they stay silent.

use std::sync::Arc;
use std::time::Duration;

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

/// Keeps the watchers alive; dropping it stops them.
pub struct Watchers {
    _native: Vec<RecommendedWatcher>,
    _poll: Vec<PollWatcher>,
}

/// Starts one watcher per watch entry; each event wakes `wake`.
///
/// # Errors
/// A folder cannot be watched (it is then still found by the periodic rescan; the caller logs).
pub fn start(
    entries: &[(std::path::PathBuf, bool, Duration)],
    wake: Arc<Notify>,
) -> notify::Result<Watchers> {
    let mut native = Vec::new();
    let mut poll = Vec::new();
    for (path, use_poll, interval) in entries {
        let w = wake.clone();
        let handler = move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                w.notify_one();
            }
        };
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
