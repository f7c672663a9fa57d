//! Aggregated views: agents, the overview (states and throughput), QC trends, retention. Every
//! count comes from the maintained aggregates (`state_counts`, `hourly`), never from a scan of
//! `files`, so they stay fast with millions of rows.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Row};

use crate::api::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::totals::saturating_sum;

pub async fn agents(
    State(state): State<AppState>,
    _who: Principal,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "agents": agent_list(&state).await? })))
}

/// `{state: {files, bytes}}` per agent, from the aggregates.
async fn state_counts(
    state: &AppState,
) -> Result<BTreeMap<String, BTreeMap<String, (i64, i64)>>, ApiError> {
    let mut out: BTreeMap<String, BTreeMap<String, (i64, i64)>> = BTreeMap::new();
    for r in sqlx::query("SELECT agent, state, files, bytes FROM state_counts WHERE files <> 0")
        .fetch_all(&state.db.pool)
        .await?
    {
        out.entry(r.try_get("agent")?).or_default().insert(
            r.try_get("state")?,
            (r.try_get("files")?, r.try_get("bytes")?),
        );
    }
    Ok(out)
}

async fn agent_list(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let counts = state_counts(state).await?;
    let rows = sqlx::query("SELECT name, host, queue, last_seen FROM agents ORDER BY name")
        .fetch_all(&state.db.pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get("name")?;
        let by_state = counts.get(&name).cloned().unwrap_or_default();
        let n = |s: &str| by_state.get(s).map_or(0, |c| c.0);
        out.push(json!({
            "name": name,
            "last_seen": r.try_get::<String, _>("last_seen")?,
            "files": saturating_sum(by_state.values().map(|c| c.0)),
            "failed": n("failed"),
            "quarantined": n("quarantined"),
            "bytes": saturating_sum(by_state.values().map(|c| c.1)),
            "host": r.try_get::<Option<String>, _>("host")?,
            "queue": r.try_get::<Option<i64>, _>("queue")?,
            "states": by_state.iter().map(|(s, c)| (s.clone(), json!(c.0))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
pub struct OverviewQuery {
    /// How far back the throughput goes.
    pub days: Option<i64>,
}

pub async fn overview(
    State(state): State<AppState>,
    _who: Principal,
    Query(oq): Query<OverviewQuery>,
) -> Result<Json<Value>, ApiError> {
    let days = oq.days.unwrap_or(7).clamp(1, 366);
    let since = crate::time::hour(&crate::time::format(
        chrono::Utc::now() - chrono::Duration::days(days),
    ));
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for by_state in state_counts(&state).await?.values() {
        for (s, (n, b)) in by_state {
            let t = totals.entry(s.clone()).or_default();
            t.0 = t.0.saturating_add(*n);
            t.1 = t.1.saturating_add(*b);
        }
    }
    // Summed here rather than by SQL's SUM, which fails (SQLite) or errs on the cast
    // (PostgreSQL) when the agents' totals together pass i64::MAX.
    let mut hours: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT hour, found, found_bytes, verified, verified_bytes FROM hourly WHERE hour >= $1",
    )
    .bind(since)
    .fetch_all(&state.db.pool)
    .await?
    {
        let h = hours.entry(r.try_get("hour")?).or_default();
        for (i, col) in ["found", "found_bytes", "verified", "verified_bytes"]
            .into_iter()
            .enumerate()
        {
            h[i] = h[i].saturating_add(r.try_get::<i64, _>(col)?);
        }
    }
    let throughput: Vec<Value> = hours
        .into_iter()
        .map(|(hour, [found, found_bytes, verified, verified_bytes])| {
            json!({
                "hour": hour,
                "found": found,
                "found_bytes": found_bytes,
                "verified": verified,
                "verified_bytes": verified_bytes,
            })
        })
        .collect();
    Ok(Json(json!({
        "agents": agent_list(&state).await?,
        "states": totals.iter().map(|(s, (n, b))| (s.clone(), json!({"files": n, "bytes": b}))).collect::<serde_json::Map<_, _>>(),
        "throughput": throughput,
        "qc_alarms": alarm_count(&state).await?,
        "saturation_threshold": state.saturation_alarm,
        // What the pipelines' `qc:` rules raised (`qc_alarms` above is the server's own
        // saturation threshold applied to every channel, kept for its readers).
        "rule_alarms": crate::alarms::count(&state).await?,
    })))
}

/// Channels over the saturation threshold (an index range scan on `saturation`).
pub async fn alarm_count(state: &AppState) -> Result<i64, ApiError> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM qc_channels WHERE saturation > $1")
            .bind(state.saturation_alarm)
            .fetch_one(&state.db.pool)
            .await?,
    )
}

#[derive(Debug, Deserialize)]
pub struct TrendQuery {
    pub instrument: Option<String>,
    pub channel: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Most recent points kept (default 2000).
    pub limit: Option<i64>,
    /// Overrides the server's saturation alarm threshold for this answer.
    pub threshold: Option<f64>,
}

pub async fn trends(
    State(state): State<AppState>,
    _who: Principal,
    Query(tq): Query<TrendQuery>,
) -> Result<Json<Value>, ApiError> {
    let threshold = tq.threshold.unwrap_or(state.saturation_alarm);
    let limit = tq.limit.unwrap_or(2000).clamp(1, 20000);
    let mut wheres = Vec::new();
    let mut args = Vec::new();
    if let Some(i) = tq.instrument.filter(|s| !s.is_empty()) {
        args.push(i);
        wheres.push(format!("instrument = ${}", args.len()));
    }
    if let Some(c) = tq.channel.filter(|s| !s.is_empty()) {
        args.push(c);
        wheres.push(format!("name = ${}", args.len()));
    }
    for (name, value, op) in [("from", &tq.from, ">="), ("to", &tq.to, "<")] {
        if let Some(v) = value.as_ref().filter(|s| !s.is_empty()) {
            let t = crate::time::bound(v).ok_or_else(|| {
                ApiError::bad_request(format!("{name}={v}: expected RFC 3339 or YYYY-MM-DD"))
            })?;
            args.push(t);
            wheres.push(format!("at {op} ${}", args.len()));
        }
    }
    let filter = if wheres.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wheres.join(" AND "))
    };
    let sql = format!(
        "SELECT file_id, channel, name, instrument, at, snr, saturation FROM qc_channels {filter} \
         ORDER BY at DESC LIMIT {limit}"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for a in args {
        q = q.bind(a);
    }
    let mut series: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut alarms = Vec::new();
    for r in q.fetch_all(&state.db.pool).await?.iter().rev() {
        let channel: i64 = r.try_get("channel")?;
        let name: Option<String> = r.try_get("name")?;
        let name = name.unwrap_or_else(|| format!("channel {channel}"));
        let instrument: String = r.try_get("instrument")?;
        let saturation: Option<f64> = r.try_get("saturation")?;
        let alarm = saturation.is_some_and(|s| s > threshold);
        let point = json!({
            "at": r.try_get::<String, _>("at")?,
            "file_id": r.try_get::<i64, _>("file_id")?,
            "snr": r.try_get::<Option<f64>, _>("snr")?,
            "saturation_fraction": saturation,
            "alarm": alarm,
        });
        if alarm {
            let mut a = point.clone();
            a["instrument"] = json!(instrument);
            a["channel"] = json!(name);
            alarms.push(a);
        }
        series.entry((instrument, name)).or_default().push(point);
    }
    let series: Vec<Value> = series
        .into_iter()
        .map(|((instrument, channel), points)| {
            json!({"instrument": instrument, "channel": channel, "points": points})
        })
        .collect();
    Ok(Json(
        json!({ "threshold": threshold, "series": series, "alarms": alarms }),
    ))
}

pub async fn retention(
    State(state): State<AppState>,
    _who: Principal,
) -> Result<Json<Value>, ApiError> {
    let mut verified = (0i64, 0i64);
    let mut purged = (0i64, 0i64);
    for by_state in state_counts(&state).await?.values() {
        for (s, (n, b)) in by_state {
            let t = match s.as_str() {
                "verified" => &mut verified,
                "purged" => &mut purged,
                _ => continue,
            };
            t.0 = t.0.saturating_add(*n);
            t.1 = t.1.saturating_add(*b);
        }
    }
    let kept = sqlx::query(
        "SELECT id, agent, path, version, kept_reason, kept_at, size, state FROM files \
         WHERE kept_at IS NOT NULL AND state <> 'purged' ORDER BY kept_at DESC LIMIT 200",
    )
    .fetch_all(&state.db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(json!({
            "id": r.try_get::<i64, _>("id")?,
            "agent": r.try_get::<String, _>("agent")?,
            "path": r.try_get::<String, _>("path")?,
            "version": r.try_get::<i64, _>("version")?,
            "reason": r.try_get::<Option<String>, _>("kept_reason")?,
            "at": r.try_get::<Option<String>, _>("kept_at")?,
            "size": r.try_get::<i64, _>("size")?,
            "state": r.try_get::<String, _>("state")?,
        }))
    })
    .collect::<Result<Vec<Value>, sqlx::Error>>()?;
    Ok(Json(json!({
        "reclaimable_bytes": verified.1,
        "reclaimable_files": verified.0,
        "purged_files": purged.0,
        "purged_bytes": purged.1,
        "kept": kept,
    })))
}
