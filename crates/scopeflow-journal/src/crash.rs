//! Crash accounting: "processing started" is durable before a file is converted, so a file
//! that kills the process (an abort on a failed allocation, an out-of-memory kill) counts as a
//! failed attempt at the next start and ends in quarantine instead of crash-looping the agent.

use std::time::Duration;

use scopeflow_core::FileState;

use crate::error::JournalError;
use crate::open::Journal;
use crate::time;

/// A file whose processing started and never ended, as found at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interrupted {
    pub id: i64,
    pub rel: String,
    /// The attempt that died (1 for the first).
    pub attempt: u32,
    /// `failed`, or `quarantined` once the attempts are spent.
    pub state: FileState,
}

impl Journal {
    /// Records (durably, before the work starts) that file `id` is being processed.
    pub async fn processing_started(&self, id: i64) -> Result<(), JournalError> {
        sqlx::query(
            "INSERT INTO processing (file_id, started_at, pid) VALUES (?, ?, ?) \
             ON CONFLICT (file_id) DO UPDATE SET started_at = excluded.started_at, pid = excluded.pid",
        )
        .bind(id)
        .bind(time::fmt(time::now()))
        .bind(i64::from(std::process::id()))
        .execute(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Processing of `id` ended (well or not, the outcome is recorded separately).
    pub async fn processing_ended(&self, id: i64) -> Result<(), JournalError> {
        sqlx::query("DELETE FROM processing WHERE file_id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// A graceful stop: processing cut short by the agent itself is no crash.
    pub async fn processing_abandoned(&self) -> Result<(), JournalError> {
        sqlx::query("DELETE FROM processing")
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// At start-up, before any work: every file whose processing started and never ended
    /// gets a failed attempt ("the process died while processing this file (attempt N)"),
    /// with back-off, and is quarantined at `max_attempts`. Returns those files.
    pub async fn count_interrupted(
        &self,
        max_attempts: u32,
        backoff: Duration,
        max_backoff: Duration,
    ) -> Result<Vec<Interrupted>, JournalError> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT file_id FROM processing ORDER BY file_id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for id in ids {
            let row = match self.get(id).await {
                Ok(row) => row,
                Err(JournalError::NotFound { .. }) => {
                    self.processing_ended(id).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Only a file still waiting for its processing; one that moved on meanwhile
            // (processed, replaced by a newer version) was not what killed the process.
            if matches!(row.state, FileState::Stable | FileState::Failed) {
                let attempt = row.attempts.saturating_add(1);
                let why = format!(
                    "{}: the process died while processing this file (attempt {attempt})",
                    row.rel
                );
                let state = self
                    .mark_failed(id, &why, max_attempts, backoff, max_backoff)
                    .await?;
                out.push(Interrupted {
                    id,
                    rel: row.rel,
                    attempt,
                    state,
                });
            }
            self.processing_ended(id).await?;
        }
        Ok(out)
    }
}
