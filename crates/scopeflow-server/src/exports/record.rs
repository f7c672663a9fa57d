//! The descriptive metadata of each file, kept from the QC document of its `processed` event:
//! the catalog's columns hold what lists and searches need, this holds what a repository needs
//! (`metadata` of the pipeline and sidecars, the naming verdict).

use std::collections::HashMap;

use scopeflow_core::{Event, EventBody};
use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Row};

use crate::api::AppState;
use crate::catalog::FileRow;
use crate::error::ApiError;
use crate::store::{Key, Tx};

/// A file as the exports see it: its catalog row and what its QC document said about it.
#[derive(Clone, Debug, Default)]
pub struct Item {
    pub row: FileRow,
    pub metadata: Map<String, Value>,
    pub naming: Option<Value>,
}

impl Item {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.metadata
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    pub fn eln_url(&self) -> Option<&str> {
        self.text("eln_url")
    }
}

/// Rows per `INSERT`: 240 bound parameters, the size `crate::store` finds fastest on SQLite.
const ROWS_PER_STATEMENT: usize = 60;

/// Stores the metadata of the `processed` events among `fresh` (indexes into `events`, `times`
/// their normalised times); the newest document of a file wins, whatever order they came in.
pub async fn record(
    tx: &mut Tx,
    events: &[Event],
    fresh: &[usize],
    times: &[String],
    rows: &HashMap<Key, FileRow>,
) -> Result<(), ApiError> {
    let mut newest: HashMap<i64, (&str, Option<String>, Option<String>)> = HashMap::new();
    for &i in fresh {
        let ev = &events[i];
        let EventBody::Processed { qc: Some(doc), .. } = &ev.body else {
            continue;
        };
        let key = (
            ev.file.watch.clone(),
            ev.file.path.clone(),
            i64::from(ev.file.version),
        );
        let Some(row) = rows.get(&key) else { continue };
        let at = times[i].as_str();
        if newest.get(&row.id).is_some_and(|(t, _, _)| *t > at) {
            continue;
        }
        let metadata = doc.get("metadata").filter(|m| m.is_object());
        let naming = doc.get("naming").filter(|m| m.is_object());
        newest.insert(
            row.id,
            (
                at,
                metadata.map(Value::to_string),
                naming.map(Value::to_string),
            ),
        );
    }
    // Set-based like the rest of the ingest (see `crate::store`): a few statements per batch.
    let newest: Vec<_> = newest.into_iter().collect();
    for chunk in newest.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let n = r * 4;
                format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
            })
            .collect();
        let sql = format!(
            "INSERT INTO file_metadata (file_id, at, metadata, naming) VALUES {} \
             ON CONFLICT (file_id) DO UPDATE SET at = excluded.at, metadata = excluded.metadata, \
             naming = excluded.naming WHERE file_metadata.at <= excluded.at",
            values.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, (at, metadata, naming)) in chunk {
            q = q
                .bind(*id)
                .bind(*at)
                .bind(metadata.as_deref())
                .bind(naming.as_deref());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The metadata and naming verdict of these files, by id.
pub async fn load(state: &AppState, rows: Vec<FileRow>) -> Result<Vec<Item>, ApiError> {
    let mut found: HashMap<i64, (Option<String>, Option<String>)> = HashMap::new();
    for chunk in rows.chunks(500) {
        // Ids are integers from our own rows: safe to inline.
        let ids: Vec<String> = chunk.iter().map(|r| r.id.to_string()).collect();
        let sql = format!(
            "SELECT file_id, metadata, naming FROM file_metadata WHERE file_id IN ({})",
            ids.join(",")
        );
        for r in sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&state.db.pool)
            .await?
        {
            found.insert(
                r.try_get("file_id")?,
                (r.try_get("metadata")?, r.try_get("naming")?),
            );
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let (metadata, naming) = found.remove(&row.id).unwrap_or_default();
            let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str::<Value>(&t).ok());
            Item {
                metadata: match parse(metadata) {
                    Some(Value::Object(m)) => m,
                    _ => Map::new(),
                },
                naming: parse(naming),
                row,
            }
        })
        .collect())
}
