//! Copies at destinations, and the file state they add up to.

use crate::error::JournalError;
use crate::files::{check_sha256, require};
use scopeflow_core::{CopyState, FileState};

use crate::model::FileRow;
use crate::open::Journal;
use crate::time;

/// States in which a file has a checksum and copies may be recorded.
const COPYABLE: [FileState; 4] = [
    FileState::Processed,
    FileState::Transferred,
    FileState::Verified,
    FileState::Failed,
];

/// Which copy a write is about and what the file must allow.
struct CopyWrite<'a> {
    id: i64,
    destination: &'a str,
    sha256: Option<&'a str>,
    allowed: &'a [FileState],
    action: &'static str,
}

impl Journal {
    /// The raw file (and outputs) were written to `destination`; `sha256` is what was sent and
    /// `path` the raw copy's destination-relative path, which the retention robot re-verifies.
    /// The copy is unverified until [`Journal::copy_verified`], even if it was verified before.
    pub async fn copy_transferred(
        &self,
        id: i64,
        destination: &str,
        sha256: &str,
        path: &str,
    ) -> Result<(), JournalError> {
        let now = time::fmt(time::now());
        self.write_copy(
            CopyWrite {
                id,
                destination,
                sha256: Some(sha256),
                allowed: &COPYABLE,
                action: "record a transferred copy",
            },
            "INSERT INTO copies (file_id, destination, state, sha256, transferred_at, path, updated_at) \
             VALUES (?, ?, 'transferred', ?, ?, ?, ?) \
             ON CONFLICT (file_id, destination) DO UPDATE SET state = 'transferred', \
             sha256 = excluded.sha256, transferred_at = excluded.transferred_at, verified_at = NULL, \
             path = excluded.path, error = NULL, updated_at = excluded.updated_at",
            &[sha256, &now, path],
        )
        .await
    }

    /// The copy at `destination` was read back and hashed to `sha256` at `verified_at`
    /// (RFC 3339). Refused unless `sha256` is the raw file's: only a matching read-back may
    /// ever let retention delete the original.
    pub async fn copy_verified(
        &self,
        id: i64,
        destination: &str,
        sha256: &str,
        verified_at: &str,
    ) -> Result<(), JournalError> {
        let at = time::normalise(verified_at).ok_or_else(|| JournalError::InvalidArgument {
            what: "verified_at (RFC 3339)",
            value: verified_at.to_string(),
        })?;
        self.write_copy(
            CopyWrite {
                id,
                destination,
                sha256: Some(sha256),
                allowed: &COPYABLE,
                action: "record a verified copy",
            },
            "INSERT INTO copies (file_id, destination, state, sha256, verified_at, updated_at) \
             VALUES (?, ?, 'verified', ?, ?, ?) \
             ON CONFLICT (file_id, destination) DO UPDATE SET state = 'verified', \
             sha256 = excluded.sha256, verified_at = excluded.verified_at, error = NULL, \
             updated_at = excluded.updated_at",
            &[sha256, &at],
        )
        .await
    }

    /// A check found the copy at `destination` missing or bad: it no longer counts and must be
    /// sent again, so a `verified` or `transferred` file goes back to `processed` (where the
    /// agent picks it up) in the same transaction. Allowed on a purged file too, to record
    /// what an audit found; a purged file stays purged.
    pub async fn copy_invalid(
        &self,
        id: i64,
        destination: &str,
        error: &str,
    ) -> Result<(), JournalError> {
        let allowed = [
            FileState::Processed,
            FileState::Transferred,
            FileState::Verified,
            FileState::Failed,
            FileState::Purged,
        ];
        self.write_copy(
            CopyWrite {
                id,
                destination,
                sha256: None,
                allowed: &allowed,
                action: "record an invalid copy",
            },
            "INSERT INTO copies (file_id, destination, state, error, updated_at) \
             VALUES (?, ?, 'invalid', ?, ?) \
             ON CONFLICT (file_id, destination) DO UPDATE SET state = 'invalid', sha256 = NULL, \
             verified_at = NULL, error = excluded.error, updated_at = excluded.updated_at",
            &[error],
        )
        .await
    }

    /// The three ways a copy changes share everything but their SQL: one transaction that
    /// checks the file may take the change, then binds (id, destination, `values`…, now).
    async fn write_copy(
        &self,
        w: CopyWrite<'_>,
        sql: &'static str,
        values: &[&str],
    ) -> Result<(), JournalError> {
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, w.id).await?;
        check_copy(&row, w.destination, w.sha256, w.allowed, w.action)?;
        let now = time::fmt(time::now());
        let mut query = sqlx::query(sql).bind(w.id).bind(w.destination.to_string());
        for v in values {
            query = query.bind(v.to_string());
        }
        query
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))
    }

    /// Sets the file's state from its copies at `destinations` (every destination the
    /// pipeline sends to): `verified` when all are verified, `transferred` when all are at
    /// least transferred, `processed` otherwise (so an invalid copy takes a verified file
    /// back). Destinations without a copy get a `pending` one, so `status` lists them.
    /// A `failed` file stays `failed` (its back-off with it) unless its copies made progress.
    /// Returns the resulting state.
    pub async fn refresh_state(
        &self,
        id: i64,
        destinations: &[String],
    ) -> Result<FileState, JournalError> {
        if destinations.is_empty() || destinations.iter().any(String::is_empty) {
            // With no destination every copy would be "verified", and retention could delete
            // a raw file that exists nowhere else.
            return Err(JournalError::InvalidArgument {
                what: "destinations (at least one, none empty)",
                value: format!("{destinations:?}"),
            });
        }
        let mut tx = self.write().await?;
        let row = self.file_in(&mut tx, id).await?;
        require(&row, &COPYABLE, "take its state from its copies")?;
        if row.sha256.is_none() {
            return Err(not_processed(&row, "take its state from its copies"));
        }
        let now = time::fmt(time::now());
        let mut all_transferred = true;
        let mut all_verified = true;
        for d in destinations {
            sqlx::query(
                "INSERT INTO copies (file_id, destination, state, updated_at) VALUES (?, ?, 'pending', ?) \
                 ON CONFLICT (file_id, destination) DO NOTHING",
            )
            .bind(id)
            .bind(d)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            let copy: String = sqlx::query_scalar(
                "SELECT state FROM copies WHERE file_id = ? AND destination = ?",
            )
            .bind(id)
            .bind(d)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.db(e))?;
            let copy: CopyState = copy
                .parse()
                .map_err(|e| self.corrupt(format!("copies of file {id} at {d}: {e}")))?;
            all_verified &= copy == CopyState::Verified;
            all_transferred &= copy == CopyState::Verified || copy == CopyState::Transferred;
        }
        let target = if all_verified {
            FileState::Verified
        } else if all_transferred {
            FileState::Transferred
        } else {
            FileState::Processed
        };
        let stays_failed = row.state == FileState::Failed && target == FileState::Processed;
        if row.state == target || stays_failed {
            tx.commit().await.map_err(|e| self.db(e))?;
            return Ok(row.state);
        }
        // transferred_at/verified_at describe the state the file is in now: set on the way
        // up, cleared on the way back down.
        sqlx::query(
            "UPDATE files SET state = ?1, failed_from = NULL, error = NULL, next_attempt_at = NULL, \
             transferred_at = CASE WHEN ?1 = 'processed' THEN NULL ELSE COALESCE(transferred_at, ?2) END, \
             verified_at = CASE WHEN ?1 = 'verified' THEN ?2 ELSE NULL END, \
             updated_at = ?2 WHERE id = ?3",
        )
        .bind(target.as_str())
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.db(e))?;
        tx.commit().await.map_err(|e| self.db(e))?;
        Ok(target)
    }
}

fn check_copy(
    row: &FileRow,
    destination: &str,
    sha256: Option<&str>,
    allowed: &[FileState],
    action: &'static str,
) -> Result<(), JournalError> {
    if destination.is_empty() {
        return Err(JournalError::InvalidArgument {
            what: "destination name",
            value: String::new(),
        });
    }
    require(row, allowed, action)?;
    let Some(expected) = row.sha256.as_deref() else {
        return Err(not_processed(row, action));
    };
    if let Some(found) = sha256 {
        check_sha256(found)?;
        if found != expected {
            return Err(JournalError::ChecksumMismatch {
                id: row.id,
                rel: row.rel.clone(),
                destination: destination.to_string(),
                expected: expected.to_string(),
                found: found.to_string(),
            });
        }
    }
    Ok(())
}

/// A `failed` row that failed before processing has no checksum to compare copies with.
fn not_processed(row: &FileRow, action: &'static str) -> JournalError {
    JournalError::InvalidTransition {
        id: row.id,
        rel: row.rel.clone(),
        from: format!("{} (never processed)", row.state),
        action,
    }
}
