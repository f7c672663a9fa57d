//! The throughput part of `status`: how fast files got verified over the last minute, how
//! many wait, and when the queue should be empty. Kept apart from the file listing so the two
//! can change independently.

use scopeflow_journal::{Journal, JournalError, Throughput};

/// The journal's figures (see [`Journal::throughput`]).
pub(crate) async fn figures(journal: &Journal) -> Result<Throughput, JournalError> {
    journal.throughput().await
}

/// One line under the file listing.
pub(crate) fn line(t: &Throughput) -> String {
    let eta = t.eta_s().map_or_else(
        || "unknown (nothing verified lately)".into(),
        |s| format!("{s:.0} s"),
    );
    format!(
        "throughput (last {} s): {:.1} files/s, {:.1} MB/s; queue {} files, {:.0} MB; eta {eta}",
        scopeflow_journal::WINDOW_S,
        t.files_per_s(),
        t.bytes_per_s() / 1e6,
        t.queue,
        t.queue_bytes as f64 / 1e6,
    )
}
