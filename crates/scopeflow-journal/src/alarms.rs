//! QC alarms and their deliveries: recorded once per file version, channel and rule, and
//! marked sent per notifier, so a restart neither forgets an alarm nor repeats a sent one.

use std::time::Duration;

use sqlx::Row;

use crate::error::JournalError;
use crate::open::Journal;
use crate::time;

/// A QC rule a channel of a file broke.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlarm {
    pub channel: usize,
    pub channel_name: Option<String>,
    /// `saturation_max`, `snr_min` or `focus_min`.
    pub rule: String,
    /// `None` when the QC gives no figure (e.g. no SNR for a flat channel).
    pub value: Option<f64>,
    pub threshold: f64,
    /// The file's instrument (its metadata's, else the pipeline's name).
    pub instrument: String,
}

/// One alarm still to be told through one notifier.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmDelivery {
    pub alarm_id: i64,
    pub notifier: String,
    pub attempts: u32,
    pub watch: String,
    pub rel: String,
    pub version: u32,
    pub alarm: NewAlarm,
    pub created_at: String,
}

impl Journal {
    /// Records `alarms` of file `file_id`, each to be delivered through every one of
    /// `notifiers`; an alarm already recorded (a file processed again after a crash) is kept
    /// as it was, deliveries included. Returns how many alarms were new.
    pub async fn record_alarms(
        &self,
        file_id: i64,
        alarms: &[NewAlarm],
        notifiers: &[String],
    ) -> Result<u64, JournalError> {
        if alarms.is_empty() {
            return Ok(0);
        }
        let now = time::fmt(time::now());
        let mut tx = self.write().await?;
        let mut new = 0;
        for a in alarms {
            let inserted = sqlx::query(
                "INSERT OR IGNORE INTO alarms (file_id, channel, channel_name, rule, value, threshold, instrument, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(file_id)
            .bind(i64::try_from(a.channel).unwrap_or(i64::MAX))
            .bind(&a.channel_name)
            .bind(&a.rule)
            .bind(a.value)
            .bind(a.threshold)
            .bind(&a.instrument)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            if inserted.rows_affected() == 0 {
                continue;
            }
            new += 1;
            let id = inserted.last_insert_rowid();
            for n in notifiers {
                sqlx::query(
                    "INSERT OR IGNORE INTO alarm_deliveries (alarm_id, notifier, next_at) VALUES (?, ?, ?)",
                )
                .bind(id)
                .bind(n)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.db(e))?;
            }
        }
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(new)
    }

    /// Deliveries not yet sent whose time has come, oldest alarm first.
    pub async fn due_deliveries(&self, limit: u32) -> Result<Vec<AlarmDelivery>, JournalError> {
        let rows = sqlx::query(
            "SELECT d.alarm_id, d.notifier, d.attempts, f.watch, f.rel, f.version, a.channel, \
                    a.channel_name, a.rule, a.value, a.threshold, a.created_at, a.instrument \
             FROM alarm_deliveries d JOIN alarms a ON a.id = d.alarm_id JOIN files f ON f.id = a.file_id \
             WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.alarm_id, d.notifier LIMIT ?",
        )
        .bind(time::fmt(time::now()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| -> Result<AlarmDelivery, sqlx::Error> {
                let channel: i64 = r.try_get(6)?;
                Ok(AlarmDelivery {
                    alarm_id: r.try_get(0)?,
                    notifier: r.try_get(1)?,
                    attempts: u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(u32::MAX),
                    watch: r.try_get(3)?,
                    rel: r.try_get(4)?,
                    version: u32::try_from(r.try_get::<i64, _>(5)?).unwrap_or(u32::MAX),
                    alarm: NewAlarm {
                        channel: usize::try_from(channel).unwrap_or(0),
                        channel_name: r.try_get(7)?,
                        rule: r.try_get(8)?,
                        value: r.try_get(9)?,
                        threshold: r.try_get(10)?,
                        instrument: r.try_get(12)?,
                    },
                    created_at: r.try_get(11)?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.db(e))
    }

    /// The notifier told it: never sent again.
    pub async fn delivery_sent(&self, alarm_id: i64, notifier: &str) -> Result<(), JournalError> {
        let sql = "UPDATE alarm_deliveries SET state = 'sent', sent_at = ?, error = NULL \
                   WHERE alarm_id = ? AND notifier = ?";
        self.update_delivery(
            sqlx::query(sql).bind(time::fmt(time::now())),
            alarm_id,
            notifier,
        )
        .await
    }

    /// The notifier failed; tried again after `delay`.
    pub async fn delivery_failed(
        &self,
        alarm_id: i64,
        notifier: &str,
        error: &str,
        delay: Duration,
    ) -> Result<(), JournalError> {
        let sql = "UPDATE alarm_deliveries SET attempts = attempts + 1, error = ?, next_at = ? \
                   WHERE alarm_id = ? AND notifier = ? AND state = 'pending'";
        let q = sqlx::query(sql)
            .bind(error)
            .bind(time::fmt(time::after(time::now(), delay)));
        self.update_delivery(q, alarm_id, notifier).await
    }

    /// Runs `q` with the delivery's key bound last.
    async fn update_delivery(
        &self,
        q: sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
        alarm_id: i64,
        notifier: &str,
    ) -> Result<(), JournalError> {
        q.bind(alarm_id)
            .bind(notifier)
            .execute(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Deliveries not yet sent, due or not (what `--once` waits for before it exits).
    pub async fn pending_deliveries(&self) -> Result<u64, JournalError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM alarm_deliveries WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| self.db(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
