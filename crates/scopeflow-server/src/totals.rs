//! The maintained aggregates (`state_counts`, `hourly`) with checked arithmetic: a batch whose
//! byte or file totals would pass `i64::MAX` is refused before anything is written, so no
//! agent can wrap a total negative or push SQLite into storing a float where a count belongs
//! (which made every aggregate endpoint answer 500). Readers add across agents with saturating
//! arithmetic, so a sum over many agents never fails either.

use std::collections::HashMap;

use sqlx::Row;

use crate::error::ApiError;
use crate::store::Tx;

fn overflow(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "this batch would overflow the {what} totals (above {})",
        i64::MAX
    ))
}

/// `total += (files, bytes)`, checked.
pub fn add(total: &mut (i64, i64), files: i64, bytes: i64) -> Result<(), ApiError> {
    total.0 = total.0.checked_add(files).ok_or_else(|| overflow("file"))?;
    total.1 = total.1.checked_add(bytes).ok_or_else(|| overflow("byte"))?;
    Ok(())
}

/// `total -= (files, bytes)`, checked.
pub fn sub(total: &mut (i64, i64), files: i64, bytes: i64) -> Result<(), ApiError> {
    total.0 = total.0.checked_sub(files).ok_or_else(|| overflow("file"))?;
    total.1 = total.1.checked_sub(bytes).ok_or_else(|| overflow("byte"))?;
    Ok(())
}

/// Whether adding these changes to the stored totals of `agent` keeps each within `i64`.
/// Runs under the ingest's write lock, so the totals read here are those the update adds to.
pub async fn check(
    tx: &mut Tx,
    agent: &str,
    counts: &HashMap<String, (i64, i64)>,
    found_hours: &HashMap<String, (i64, i64)>,
    verified_hours: &HashMap<String, (i64, i64)>,
) -> Result<(), ApiError> {
    let stored = sqlx::query("SELECT state, files, bytes FROM state_counts WHERE agent = $1")
        .bind(agent)
        .fetch_all(&mut **tx)
        .await?;
    let mut now: HashMap<String, (i64, i64)> = HashMap::new();
    for r in &stored {
        now.insert(
            r.try_get("state")?,
            (r.try_get("files")?, r.try_get("bytes")?),
        );
    }
    for (state, (files, bytes)) in counts {
        let mut t = now.get(state).copied().unwrap_or_default();
        add(&mut t, *files, *bytes)?;
    }
    for (cols, changes) in [
        ("found, found_bytes", found_hours),
        ("verified, verified_bytes", verified_hours),
    ] {
        for (hour, (files, bytes)) in changes {
            let sql = format!("SELECT {cols} FROM hourly WHERE hour = $1 AND agent = $2");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(hour)
                .bind(agent)
                .fetch_optional(&mut **tx)
                .await?;
            let mut t = match row {
                Some(r) => (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?),
                None => (0, 0),
            };
            add(&mut t, *files, *bytes)?;
        }
    }
    Ok(())
}

/// Sums across agents for display: saturates instead of failing.
pub fn saturating_sum(values: impl IntoIterator<Item = i64>) -> i64 {
    values.into_iter().fold(0i64, i64::saturating_add)
}
