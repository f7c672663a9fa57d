//! A few threads over a list of independent file operations: the read-back of an OME-Zarr is
//! hundreds of files, each waiting on the disk and then on one core to hash it, and each of its
//! hundreds of folders needs its own flush. One at a time, the disk and the second core idle.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// Threads for work that reads and hashes (bound by cores and disk).
pub(super) fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// Threads for flushes (each mostly waits on the disk, which serves several at once).
pub(super) const FLUSH_THREADS: usize = 8;

/// `work` on every item, from up to `threads` threads (fewer for short lists: each thread takes
/// at least [`PER_THREAD`] items), results in the items' order. After a failure no new item is
/// started, and the first failure in item order is returned; a panic in `work` is resumed here.
pub(super) fn each<T, R, E>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
{
    let threads = threads.min(items.len().div_ceil(PER_THREAD));
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let (next, failed) = (AtomicUsize::new(0), AtomicBool::new(false));
    let mut done: Vec<(usize, Result<R, E>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    while !failed.load(Relaxed) {
                        let i = next.fetch_add(1, Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let r = work(item);
                        if r.is_err() {
                            failed.store(true, Relaxed);
                        }
                        out.push((i, r));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Below this many items per thread, starting a thread costs more than it saves.
const PER_THREAD: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u32> = (0..1000).collect();
        let out = each(&items, 4, |&i| Ok::<_, ()>(i * 2)).unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_failure_in_order_is_returned() {
        let items: Vec<u32> = (0..1000).collect();
        let got = each(&items, 4, |&i| if i % 300 == 299 { Err(i) } else { Ok(i) });
        // 299 fails first in item order; a thread may have reached 599 as well.
        assert_eq!(got, Err(299));
    }

    #[test]
    fn short_lists_run_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let items = [1, 2, 3];
        let ids = each(&items, 8, |_| Ok::<_, ()>(std::thread::current().id())).unwrap();
        assert!(ids.iter().all(|&id| id == caller));
    }
}
