//! The agents' QC alarms (`qc_alarm` events): stored once per file version, channel and rule,
//! listed by `GET /api/alarms`, on each file's page, and counted in `/metrics`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use scopeflow_core::{Event, EventBody};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row};

use crate::api::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::files::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::store::Tx;

/// Stores the alarms `(file_id, event, at)`; one already stored (the same alarm in an event the
/// agent sent again under a new id, which it never does today) is kept as it was.
pub async fn store(
    tx: &mut Tx,
    agent: &str,
    alarms: &[(i64, &Event, &str)],
) -> Result<(), ApiError> {
    for (file_id, ev, at) in alarms {
        let EventBody::QcAlarm {
            channel,
            channel_name,
            rule,
            value,
            threshold,
            instrument,
        } = &ev.body
        else {
            continue;
        };
        sqlx::query(
            "INSERT INTO qc_alarms (agent, file_id, channel, channel_name, rule, value, threshold, instrument, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (file_id, channel, rule) DO NOTHING",
        )
        .bind(agent)
        .bind(*file_id)
        .bind(i64::try_from(*channel).unwrap_or(i64::MAX))
        .bind(channel_name.as_deref())
        .bind(rule.as_str())
        .bind(*value)
        .bind(*threshold)
        .bind(crate::catalog::instrument_or_agent(Some(instrument), agent))
        .bind(*at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
pub struct AlarmQuery {
    pub instrument: Option<String>,
    /// The file's user (as in the file list: its metadata's, else its first folder).
    pub user: Option<String>,
    pub agent: Option<String>,
    pub rule: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

const COLUMNS: &str = "a.id, a.agent, a.file_id, a.channel, a.channel_name, a.rule, a.value, \
    a.threshold, a.instrument, a.at, f.path, f.version, f.user_name";

/// `GET /api/alarms`: newest first.
pub async fn list(
    State(state): State<AppState>,
    _who: Principal,
    Query(aq): Query<AlarmQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = aq.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = aq.offset.unwrap_or(0).max(0);
    let mut wheres: Vec<String> = Vec::new();
    let mut args: Vec<String> = Vec::new();
    for (column, value) in [
        ("a.instrument", aq.instrument),
        ("f.user_name", aq.user),
        ("a.agent", aq.agent),
        ("a.rule", aq.rule),
    ] {
        if let Some(v) = value.filter(|s| !s.is_empty()) {
            args.push(v);
            wheres.push(format!("{column} = ${}", args.len()));
        }
    }
    for (name, value, op) in [("from", &aq.from, ">="), ("to", &aq.to, "<")] {
        if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
            let t = crate::time::bound(v).ok_or_else(|| {
                ApiError::bad_request(format!("{name}={v}: expected RFC 3339 or YYYY-MM-DD"))
            })?;
            args.push(t);
            wheres.push(format!("a.at {op} ${}", args.len()));
        }
    }
    let filter = if wheres.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wheres.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM qc_alarms a JOIN files f ON f.id = a.file_id {filter} \
         ORDER BY a.at DESC, a.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for a in args {
        q = q.bind(a);
    }
    let alarms = q
        .fetch_all(&state.db.pool)
        .await?
        .iter()
        .map(alarm_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(
        json!({ "alarms": alarms, "limit": limit, "offset": offset }),
    ))
}

/// The alarms of these files, each file's by channel then rule (ids are our own integers:
/// safe to inline).
pub async fn of_files(state: &AppState, ids: &[i64]) -> Result<HashMap<i64, Vec<Value>>, ApiError> {
    let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM qc_alarms a JOIN files f ON f.id = a.file_id WHERE a.file_id IN ({}) \
         ORDER BY a.file_id, a.channel, a.rule",
        list.join(",")
    );
    for r in sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&state.db.pool)
        .await?
    {
        out.entry(r.try_get("file_id")?)
            .or_default()
            .push(alarm_json(&r)?);
    }
    Ok(out)
}

fn alarm_json(r: &sqlx::any::AnyRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "id": r.try_get::<i64, _>("id")?,
        "file_id": r.try_get::<i64, _>("file_id")?,
        "agent": r.try_get::<String, _>("agent")?,
        "path": r.try_get::<String, _>("path")?,
        "version": r.try_get::<i64, _>("version")?,
        "user": r.try_get::<Option<String>, _>("user_name")?,
        "instrument": r.try_get::<String, _>("instrument")?,
        "channel": r.try_get::<i64, _>("channel")?,
        "channel_name": r.try_get::<Option<String>, _>("channel_name")?,
        "rule": r.try_get::<String, _>("rule")?,
        "value": r.try_get::<Option<f64>, _>("value")?,
        "threshold": r.try_get::<f64, _>("threshold")?,
        "at": r.try_get::<String, _>("at")?,
    }))
}

/// Alarms ever raised by the agents' `qc:` rules (the overview's figure).
pub async fn count(state: &AppState) -> Result<i64, ApiError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM qc_alarms")
        .fetch_one(&state.db.pool)
        .await?)
}

/// Alarms ever raised, per instrument and rule (a counter: alarms are never deleted).
pub async fn totals(state: &AppState) -> Result<Vec<(String, String, i64)>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT instrument, rule, COUNT(*) FROM qc_alarms GROUP BY instrument, rule ORDER BY instrument, rule",
    )
    .fetch_all(&state.db.pool)
    .await?)
}
