//! Events for the central server, kept until it acknowledged them.

use crate::error::JournalError;
use crate::model::{OutboxEvent, outbox_from_row};
use crate::open::Journal;
use crate::time;

impl Journal {
    /// Stores an event for the server and returns its id (a UUID v7: unique, and ordered by
    /// creation, so the server can deduplicate retried sends by id).
    pub async fn enqueue(&self, kind: &str, payload_json: &str) -> Result<String, JournalError> {
        if serde_json::from_str::<serde_json::Value>(payload_json).is_err() {
            return Err(JournalError::InvalidArgument {
                what: "outbox payload (JSON)",
                value: payload_json.chars().take(200).collect(),
            });
        }
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO outbox (id, kind, payload, created_at) VALUES (?, ?, ?, ?)")
            .bind(&id)
            .bind(kind)
            .bind(payload_json)
            .bind(time::fmt(time::now()))
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(id)
    }

    /// Up to `limit` events not yet acknowledged, oldest first.
    pub async fn unsent(&self, limit: u32) -> Result<Vec<OutboxEvent>, JournalError> {
        sqlx::query(
            "SELECT id, kind, payload, created_at, sent_at FROM outbox WHERE sent_at IS NULL \
             AND rejected IS NULL ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?
        .iter()
        .map(|r| outbox_from_row(r).map_err(|e| self.corrupt(e)))
        .collect()
    }

    /// The server acknowledged these events. Unknown or already sent ids are ignored (a retried
    /// acknowledgement keeps the first time); returns how many were newly marked.
    pub async fn mark_sent(&self, ids: &[String]) -> Result<u64, JournalError> {
        let now = time::fmt(time::now());
        self.mark_each(
            ids,
            // The server has the thumbnail now; the day an acknowledged event is kept for
            // does not need its hundred kilobytes.
            "UPDATE outbox SET sent_at = ?, payload = json_remove(payload, '$.data.thumbnail') \
             WHERE id = ? AND sent_at IS NULL",
            &now,
        )
        .await
    }

    /// Runs `sql` (binding `value`, then the id) for each of `ids` in one transaction;
    /// returns how many rows changed.
    async fn mark_each(
        &self,
        ids: &[String],
        sql: &'static str,
        value: &str,
    ) -> Result<u64, JournalError> {
        let mut tx = self.write().await?;
        let mut marked = 0;
        for id in ids {
            marked += sqlx::query(sql)
                .bind(value)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?
                .rows_affected();
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(marked)
    }

    /// The server refused these events for good (`reason`: its answer): they stay in the
    /// outbox with the reason, are never resent, and `status` lists them.
    pub async fn mark_rejected(&self, ids: &[String], reason: &str) -> Result<u64, JournalError> {
        self.mark_each(
            ids,
            "UPDATE outbox SET rejected = ? WHERE id = ? AND sent_at IS NULL AND rejected IS NULL",
            reason,
        )
        .await
    }

    /// Forgets events the server acknowledged more than `older_than` ago; returns how many.
    /// An acknowledged event is of no further use to the agent (its thumbnail already went
    /// at [`Journal::mark_sent`]); kept for good, they would still grow the journal of an
    /// acquisition PC by a few hundred bytes a file. Unsent and refused events stay.
    pub async fn prune_sent(&self, older_than: std::time::Duration) -> Result<u64, JournalError> {
        let cutoff = chrono::TimeDelta::from_std(older_than)
            .ok()
            .and_then(|d| time::now().checked_sub_signed(d))
            // A span reaching before the calendar's start: nothing is that old.
            .map_or_else(|| "0000".to_string(), time::fmt);
        sqlx::query("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at <= ?")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| self.db(e))
    }

    /// Events the server refused for good, oldest first: `(id, kind, created_at, reason)`.
    pub async fn rejected(&self) -> Result<Vec<(String, String, String, String)>, JournalError> {
        sqlx::query_as(
            "SELECT id, kind, created_at, rejected FROM outbox WHERE rejected IS NOT NULL ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))
    }
}
