//! Failures: counted ones back off exponentially and end in quarantine; deferrals do not count.

use std::time::Duration;

use scopeflow_core::FileState;

use crate::error::JournalError;
use crate::files::require;
use crate::open::Journal;
use crate::time;

/// States a file can fail or be deferred in: those the agent works on.
const WORKABLE: [FileState; 5] = [
    FileState::Discovered,
    FileState::Stable,
    FileState::Processed,
    FileState::Transferred,
    FileState::Failed,
];

impl Journal {
    /// A step failed: `attempts` + 1; at `max_attempts` the file is `quarantined` (given up,
    /// left to the operator), otherwise `failed` until now + `backoff` × 2^(attempts − 1),
    /// capped at `max_backoff`. Returns the new state.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        max_attempts: u32,
        backoff: Duration,
        max_backoff: Duration,
    ) -> Result<FileState, JournalError> {
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, id).await?;
        require(&row, &WORKABLE, "fail")?;
        let attempts = row.attempts.saturating_add(1);
        let failed_from = if row.state == FileState::Failed {
            row.failed_from.unwrap_or(FileState::Failed)
        } else {
            row.state
        };
        let now = time::now();
        let (to, next) = if attempts >= max_attempts {
            (FileState::Quarantined, None)
        } else {
            let delay = backoff_delay(attempts, backoff, max_backoff);
            (FileState::Failed, Some(time::fmt(time::after(now, delay))))
        };
        sqlx::query(
            "UPDATE files SET state = ?, failed_from = ?, error = ?, attempts = ?, next_attempt_at = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(to.as_str())
        .bind(failed_from.as_str())
        .bind(error)
        .bind(i64::from(attempts))
        .bind(next)
        .bind(time::fmt(now))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(to)
    }

    /// A failure that says nothing about the file (destination unreachable or full, local
    /// disk full): not counted as an attempt, the state stays, the file is left alone until
    /// now + `delay`.
    pub async fn defer(&self, id: i64, error: &str, delay: Duration) -> Result<(), JournalError> {
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, id).await?;
        require(&row, &WORKABLE, "be deferred")?;
        let now = time::now();
        sqlx::query("UPDATE files SET error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?")
            .bind(error)
            .bind(time::fmt(time::after(now, delay)))
            .bind(time::fmt(now))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))
    }
}

impl Journal {
    /// An operator's `scopeflow retry`: the current versions of `rels` (paths relative to
    /// their watched folder, as `status` shows them; all when `None`) that
    /// are `quarantined` or `failed` go back to work at once, with their attempts counted from
    /// zero. The error stays until the file succeeds, so `status` still says what went wrong.
    /// Returns the `(watch, rel)` of the files re-queued.
    pub async fn requeue(
        &self,
        rels: Option<&[String]>,
    ) -> Result<Vec<(String, String)>, JournalError> {
        let mut tx = self.write().await?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, watch, rel FROM files WHERE state IN ('quarantined', 'failed')              AND version = (SELECT MAX(g.version) FROM files g WHERE g.watch = files.watch              AND g.rel = files.rel) ORDER BY id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        let now = time::fmt(time::now());
        let mut out = Vec::new();
        for (id, watch, rel) in rows {
            if let Some(wanted) = rels
                && !wanted.contains(&rel)
            {
                continue;
            }
            sqlx::query(
                "UPDATE files SET state = 'failed', attempts = 0, next_attempt_at = NULL,                  updated_at = ? WHERE id = ?",
            )
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            out.push((watch, rel));
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(out)
    }
}

/// `backoff` × 2^(attempts − 1), capped at `max_backoff` (also when the product overflows).
pub(crate) fn backoff_delay(attempts: u32, backoff: Duration, max_backoff: Duration) -> Duration {
    1u32.checked_shl(attempts.saturating_sub(1))
        .and_then(|factor| backoff.checked_mul(factor))
        .map_or(max_backoff, |d| d.min(max_backoff))
}

#[cfg(test)]
mod tests {
    use super::backoff_delay;
    use std::time::Duration;

    #[test]
    fn doubles_then_caps() {
        let s = Duration::from_secs;
        let got: Vec<u64> = (1..=7)
            .map(|a| backoff_delay(a, s(10), s(300)).as_secs())
            .collect();
        assert_eq!(got, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff_delay(40, s(10), s(300)), s(300));
        assert_eq!(backoff_delay(31, Duration::MAX, s(300)), s(300));
        assert_eq!(backoff_delay(0, s(10), s(300)), s(10));
    }
}
