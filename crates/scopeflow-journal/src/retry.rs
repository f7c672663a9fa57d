//! Failures: counted ones back off exponentially and end in quarantine; deferrals do not count.

use std::time::Duration;

use crate::error::JournalError;
use crate::files::require;
use crate::model::state;
use crate::open::Journal;
use crate::time;

/// States a file can fail or be deferred in: those the agent works on.
const WORKABLE: [&str; 5] = [
    state::DISCOVERED,
    state::STABLE,
    state::PROCESSED,
    state::TRANSFERRED,
    state::FAILED,
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
    ) -> Result<String, JournalError> {
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, id).await?;
        require(&row, &WORKABLE, "fail")?;
        let attempts = row.attempts.saturating_add(1);
        let failed_from = if row.state == state::FAILED {
            row.failed_from.unwrap_or_else(|| state::FAILED.to_string())
        } else {
            row.state
        };
        let now = time::now();
        let (to, next) = if attempts >= max_attempts {
            (state::QUARANTINED, None)
        } else {
            let delay = backoff_delay(attempts, backoff, max_backoff);
            (state::FAILED, Some(time::fmt(time::after(now, delay))))
        };
        sqlx::query(
            "UPDATE files SET state = ?, failed_from = ?, error = ?, attempts = ?, next_attempt_at = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(to)
        .bind(failed_from)
        .bind(error)
        .bind(i64::from(attempts))
        .bind(next)
        .bind(time::fmt(now))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(to.to_string())
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
