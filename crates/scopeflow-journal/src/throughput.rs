//! How fast files get through, from the journal alone, so that `status` in another process
//! sees the same figures the running agent logs.

use serde_json::{Value, json};

use crate::error::JournalError;
use crate::files::CURRENT;
use crate::open::Journal;
use crate::time;

/// Rates are taken over the files verified in the last this many seconds: long enough to
/// smooth a burst of small files, short enough to show a stalled agent within a minute.
pub const WINDOW_S: u32 = 60;

/// Recent throughput and what is left to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    /// File versions verified during the last [`WINDOW_S`] seconds.
    pub recent_files: u64,
    /// Their raw bytes.
    pub recent_bytes: u64,
    /// Current versions still to be handled (discovered to transferred, and failed ones that
    /// will be retried), and their raw bytes.
    pub queue: u64,
    pub queue_bytes: u64,
}

impl Throughput {
    pub fn files_per_s(&self) -> f64 {
        self.recent_files as f64 / f64::from(WINDOW_S)
    }

    pub fn bytes_per_s(&self) -> f64 {
        self.recent_bytes as f64 / f64::from(WINDOW_S)
    }

    /// Seconds to drain the queue at the recent byte rate (files when the queue holds only
    /// empty files); 0 for an empty queue, `None` when nothing moved recently.
    pub fn eta_s(&self) -> Option<f64> {
        if self.queue == 0 {
            return Some(0.0);
        }
        if self.recent_bytes > 0 && self.queue_bytes > 0 {
            Some(self.queue_bytes as f64 / self.bytes_per_s())
        } else if self.recent_files > 0 {
            Some(self.queue as f64 / self.files_per_s())
        } else {
            None
        }
    }

    /// The `throughput` object of `status --json`.
    pub fn to_json(&self) -> Value {
        json!({
            "window_s": WINDOW_S,
            "files_per_s": round2(self.files_per_s()),
            "bytes_per_s": self.bytes_per_s().round(),
            "queue": self.queue,
            "queue_bytes": self.queue_bytes,
            "eta_s": self.eta_s().map(|s| s.round()),
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Journal {
    /// Files verified in the last [`WINDOW_S`] seconds and the queue, read in one transaction.
    pub async fn throughput(&self) -> Result<Throughput, JournalError> {
        let now = time::now();
        let since = time::fmt(
            now.checked_sub_signed(chrono::TimeDelta::seconds(i64::from(WINDOW_S)))
                .unwrap_or(now),
        );
        let mut tx = self.pool.begin().await.map_err(|e| self.db(e))?;
        let (recent_files, recent_bytes): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files WHERE verified_at >= ?",
        )
        .bind(&since)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files WHERE state IN ('discovered', \
             'stable', 'processed', 'transferred', 'failed') AND {CURRENT}"
        );
        let (queue, queue_bytes): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Throughput {
            recent_files: n(recent_files),
            recent_bytes: n(recent_bytes),
            queue: n(queue),
            queue_bytes: n(queue_bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_follows_bytes_then_files() {
        let mut t = Throughput {
            recent_files: 30,
            recent_bytes: 600,
            queue: 4,
            queue_bytes: 50,
        };
        assert_eq!(t.files_per_s(), 0.5);
        assert_eq!(t.bytes_per_s(), 10.0);
        assert_eq!(t.eta_s(), Some(5.0));
        t.queue_bytes = 0;
        assert_eq!(t.eta_s(), Some(8.0), "empty files: by count");
        t.recent_files = 0;
        t.recent_bytes = 0;
        assert_eq!(t.eta_s(), None, "nothing moving: no estimate");
        t.queue = 0;
        assert_eq!(t.eta_s(), Some(0.0));
    }

    #[tokio::test]
    async fn counts_recent_verified_files_and_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("state.db")).await.unwrap();
        let sha = "a".repeat(64);
        let done = j.observe("w", "done.tif", 1000, 1).await.unwrap();
        j.mark_stable(done.id).await.unwrap();
        j.mark_processed(done.id, &sha, None).await.unwrap();
        j.copy_transferred(done.id, "nas", &sha, "raw/done.tif")
            .await
            .unwrap();
        let now = time::fmt(time::now());
        j.copy_verified(done.id, "nas", &sha, &now).await.unwrap();
        j.refresh_state(done.id, &["nas".to_string()])
            .await
            .unwrap();
        j.observe("w", "waiting.tif", 300, 1).await.unwrap();
        let t = j.throughput().await.unwrap();
        assert_eq!(
            t,
            Throughput {
                recent_files: 1,
                recent_bytes: 1000,
                queue: 1,
                queue_bytes: 300,
            }
        );
        assert_eq!(t.to_json()["queue"], 1);
        assert_eq!(t.to_json()["eta_s"], 18.0, "300 B at 1000 B / 60 s");
    }
}
