//! What the RO-Crate of a destination is rebuilt from: every copy verified there, with the
//! file's QC document (which carries its metadata and naming verdict).

use std::collections::HashMap;

use sqlx::Row;

use crate::{Journal, JournalError};

/// One copy verified at a destination.
#[derive(Clone, Debug)]
pub struct DescribedCopy {
    pub watch: String,
    pub rel: String,
    pub version: i64,
    pub size: u64,
    pub mtime_ns: i64,
    pub sha256: String,
    /// The QC document as the agent wrote it.
    pub qc: Option<String>,
    pub verified_at: Option<String>,
}

impl Journal {
    /// Every copy verified at `destination`, oldest file first, in one query.
    pub async fn described_copies(
        &self,
        destination: &str,
    ) -> Result<Vec<DescribedCopy>, JournalError> {
        let mut all = Vec::new();
        self.for_each_described_copy(destination, |c| all.push(c))
            .await?;
        Ok(all)
    }

    /// [`Journal::described_copies`] one row at a time, as SQLite returns them: memory does
    /// not grow with the journal (each row carries its QC document, kilobytes).
    pub async fn for_each_described_copy(
        &self,
        destination: &str,
        mut each: impl FnMut(DescribedCopy),
    ) -> Result<(), JournalError> {
        use futures::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT f.watch, f.rel, f.version, f.size, f.mtime_ns, c.sha256, q.doc, c.verified_at \
             FROM copies c JOIN files f ON f.id = c.file_id \
             LEFT JOIN qc_documents q ON q.file_id = f.id \
             WHERE c.destination = ? AND c.state = 'verified' AND c.sha256 IS NOT NULL \
             ORDER BY f.id",
        )
        .bind(destination)
        .fetch(&self.pool);
        while let Some(r) = rows.try_next().await.map_err(|e| self.db(e))? {
            let copy = (|| {
                Ok::<_, sqlx::Error>(DescribedCopy {
                    watch: r.try_get(0)?,
                    rel: r.try_get(1)?,
                    version: r.try_get(2)?,
                    size: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                    mtime_ns: r.try_get(4)?,
                    sha256: r.try_get(5)?,
                    qc: r.try_get(6)?,
                    verified_at: r.try_get(7)?,
                })
            })()
            .map_err(|e| self.db(e))?;
            each(copy);
        }
        Ok(())
    }

    /// The first id of every `(watch, rel)`, as [`Journal::first_id`] gives one by one.
    pub async fn first_ids(&self) -> Result<HashMap<(String, String), i64>, JournalError> {
        let rows = sqlx::query("SELECT watch, rel, MIN(id) FROM files GROUP BY watch, rel")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.db(e))?;
        rows.iter()
            .map(|r| Ok(((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| self.db(e))
    }
}

impl Journal {
    /// How many copies are verified at `destination` and the latest verification: changes
    /// whenever the crate would, and costs one indexed aggregate instead of reading every row.
    pub async fn verified_signature(
        &self,
        destination: &str,
    ) -> Result<(i64, Option<String>), JournalError> {
        sqlx::query_as::<_, (i64, Option<String>)>(
            "SELECT COUNT(*), MAX(verified_at) FROM copies WHERE destination = ? AND state = 'verified'",
        )
        .bind(destination)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| self.db(e))
    }
}
