//! `POST /api/events`: one transaction per batch. Each event id is stored once (a resent batch
//! changes nothing); new events are applied to their file rows (see [`crate::catalog`]), and
//! the aggregates that the overview and `/metrics` read are updated in the same transaction.

use std::collections::{HashMap, HashSet};

use axum::http::StatusCode;
use scopeflow_core::{Event, EventAck, EventBatch, EventBody, FileState};

use crate::api::AppState;
use crate::catalog::{self, FileRow, QcChannel};
use crate::error::ApiError;
use crate::store::{self, EventRecord, Key, Tx};
use crate::totals;

pub async fn ingest(
    state: &AppState,
    agent: &str,
    batch: EventBatch,
) -> Result<EventAck, ApiError> {
    if batch.agent != agent {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this token writes for agent {agent:?}, the batch is from {:?}",
                batch.agent
            ),
        ));
    }
    let times = crate::validate::batch(&batch)?;
    let _writer = state.write_lock.lock().await;
    let mut tx = state.db.pool.begin().await?;
    let now = crate::time::now();

    // Which events are new (the write lock makes this check-then-insert safe); an id repeated
    // inside the batch counts once. Ids are the agent's own: another agent's ids never match.
    let ids: Vec<&str> = batch.events.iter().map(|e| e.id.as_str()).collect();
    let mut seen = store::known_events(&mut tx, agent, &ids).await?;
    let fresh: Vec<usize> = (0..batch.events.len())
        .filter(|&i| seen.insert(batch.events[i].id.clone()))
        .collect();
    let keys: HashSet<Key> = fresh.iter().map(|&i| key_of(&batch.events[i])).collect();
    let mut rows = store::load_rows(&mut tx, agent, &keys).await?;
    let original: HashMap<Key, (FileState, i64)> = rows
        .iter()
        .map(|(k, r)| (k.clone(), (r.state, r.size)))
        .collect();

    let mut qc: HashMap<Key, Vec<QcChannel>> = HashMap::new();
    let mut thumbnails: HashMap<Key, String> = HashMap::new();
    let mut alarms: Vec<(Key, usize)> = Vec::new();
    let mut verified_hours: HashMap<String, (i64, i64)> = HashMap::new();
    for &i in &fresh {
        let (ev, at) = (&batch.events[i], &times[i]);
        let key = key_of(ev);
        let row = rows
            .entry(key.clone())
            .or_insert_with(|| FileRow::new(agent, ev, at));
        let fx = row.apply(ev, at);
        if let Some(png) = fx.thumbnail {
            thumbnails.insert(key.clone(), png);
        }
        if matches!(ev.body, EventBody::QcAlarm { .. }) {
            alarms.push((key.clone(), i));
        }
        if let Some(channels) = fx.qc {
            qc.insert(key, channels);
        }
        if let Some(hour) = fx.verified_hour {
            totals::add(verified_hours.entry(hour).or_default(), 1, row.size)?;
        }
    }
    let mut touched: Vec<&mut FileRow> = rows.values_mut().collect();
    store::upsert_rows(&mut tx, &mut touched).await?;

    record_events(&mut tx, &batch, &fresh, &times, &rows, &now).await?;
    write_docs(&mut tx, &rows, qc).await?;
    let pngs: Vec<(i64, &str)> = thumbnails
        .iter()
        .map(|(k, png)| (rows[k].id, png.as_str()))
        .collect();
    crate::thumbnails::store(&mut tx, &pngs).await?;
    let new_alarms: Vec<(i64, &Event, &str)> = alarms
        .iter()
        .map(|(k, i)| (rows[k].id, &batch.events[*i], times[*i].as_str()))
        .collect();
    crate::alarms::store(&mut tx, agent, &new_alarms).await?;
    crate::exports::record(&mut tx, &batch.events, &fresh, &times, &rows).await?;

    update_aggregates(&mut tx, agent, &rows, &original, verified_hours).await?;
    touch_agent(&mut tx, &batch, &now).await?;
    tx.commit().await?;
    Ok(EventAck {
        accepted: batch.events.iter().map(|e| e.id.clone()).collect(),
        new: fresh.len() as u64,
    })
}

async fn write_copy(tx: &mut Tx, file_id: i64, ev: &Event, at: &str) -> Result<(), ApiError> {
    match &ev.body {
        EventBody::CopyVerified {
            destination,
            verified_at,
        } => {
            let when = crate::time::normalize(verified_at).unwrap_or_else(|| at.to_string());
            sqlx::query(
                "INSERT INTO copies (file_id, destination, verified_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (file_id, destination) DO UPDATE SET verified_at = excluded.verified_at, error = NULL \
                 WHERE (copies.verified_at IS NULL OR copies.verified_at < excluded.verified_at) \
                 AND (copies.invalid_at IS NULL OR copies.invalid_at < excluded.verified_at)",
            )
            .bind(file_id)
            .bind(destination)
            .bind(when)
            .execute(&mut **tx)
            .await?;
        }
        EventBody::CopyInvalid { destination, error } => {
            sqlx::query(
                "INSERT INTO copies (file_id, destination, invalid_at, error) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (file_id, destination) DO UPDATE SET invalid_at = excluded.invalid_at, \
                 error = excluded.error, verified_at = CASE WHEN copies.verified_at > excluded.invalid_at \
                 THEN copies.verified_at ELSE NULL END \
                 WHERE copies.invalid_at IS NULL OR copies.invalid_at < excluded.invalid_at",
            )
            .bind(file_id)
            .bind(destination)
            .bind(at)
            .bind(error.as_deref().unwrap_or("copy missing or different"))
            .execute(&mut **tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn bump_hour(
    tx: &mut Tx,
    hour: &str,
    agent: &str,
    (found, found_bytes, verified, verified_bytes): (i64, i64, i64, i64),
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO hourly (hour, agent, found, found_bytes, verified, verified_bytes) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hour, agent) DO UPDATE SET \
         found = hourly.found + excluded.found, found_bytes = hourly.found_bytes + excluded.found_bytes, \
         verified = hourly.verified + excluded.verified, \
         verified_bytes = hourly.verified_bytes + excluded.verified_bytes",
    )
    .bind(hour)
    .bind(agent)
    .bind(found)
    .bind(found_bytes)
    .bind(verified)
    .bind(verified_bytes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The QC channels of the files whose QC changed, and the documents kept once per file.
async fn write_docs(
    tx: &mut Tx,
    rows: &HashMap<Key, FileRow>,
    qc: HashMap<Key, Vec<QcChannel>>,
) -> Result<(), ApiError> {
    let qc_rows: Vec<(i64, String, String, Vec<QcChannel>)> = qc
        .into_iter()
        .map(|(key, channels)| {
            let r = &rows[&key];
            let instrument =
                catalog::instrument_or_agent(r.instrument.as_deref(), &r.agent).to_string();
            (r.id, instrument, r.sort_at.clone(), channels)
        })
        .collect();
    store::replace_qc(tx, &qc_rows).await?;
    let docs: Vec<&FileRow> = rows
        .values()
        .filter(|r| r.inspect.is_some() || r.qc.is_some())
        .collect();
    store::upsert_docs(tx, &docs).await
}

/// The counts per state and per hour that the overview and `/metrics` read: each touched row
/// moves from its `original` state (if it existed) to its new one.
async fn update_aggregates(
    tx: &mut Tx,
    agent: &str,
    rows: &HashMap<Key, FileRow>,
    original: &HashMap<Key, (FileState, i64)>,
    verified_hours: HashMap<String, (i64, i64)>,
) -> Result<(), ApiError> {
    let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
    let mut found_hours: HashMap<String, (i64, i64)> = HashMap::new();
    for (key, row) in rows {
        match original.get(key) {
            Some((s, size)) => {
                totals::sub(counts.entry(s.as_str().to_string()).or_default(), 1, *size)?;
            }
            None => totals::add(
                found_hours
                    .entry(crate::time::hour(&row.found_at))
                    .or_default(),
                1,
                row.size,
            )?,
        }
        totals::add(
            counts.entry(row.state.as_str().to_string()).or_default(),
            1,
            row.size,
        )?;
    }
    totals::check(tx, agent, &counts, &found_hours, &verified_hours).await?;
    for (state, (files, bytes)) in counts {
        if files == 0 && bytes == 0 {
            continue;
        }
        sqlx::query(
            "INSERT INTO state_counts (agent, state, files, bytes) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (agent, state) DO UPDATE SET files = state_counts.files + excluded.files, \
             bytes = state_counts.bytes + excluded.bytes",
        )
        .bind(agent)
        .bind(state)
        .bind(files)
        .bind(bytes)
        .execute(&mut **tx)
        .await?;
    }
    for (hour, (n, bytes)) in found_hours {
        bump_hour(tx, &hour, agent, (n, bytes, 0, 0)).await?;
    }
    for (hour, (n, bytes)) in verified_hours {
        bump_hour(tx, &hour, agent, (0, 0, n, bytes)).await?;
    }
    Ok(())
}

/// The agent was heard from now; its host and queue length as it reports them.
async fn touch_agent(tx: &mut Tx, batch: &EventBatch, now: &str) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO agents (name, host, queue, last_seen) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET host = COALESCE(excluded.host, agents.host), \
         queue = COALESCE(excluded.queue, agents.queue), last_seen = excluded.last_seen",
    )
    .bind(&batch.agent)
    .bind(batch.host.as_deref())
    .bind(batch.queue.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn key_of(ev: &Event) -> Key {
    (
        ev.file.watch.clone(),
        ev.file.path.clone(),
        i64::from(ev.file.version),
    )
}

/// Stores the new events (`fresh`: their indexes in the batch) and the copy states they carry.
async fn record_events(
    tx: &mut Tx,
    batch: &EventBatch,
    fresh: &[usize],
    times: &[String],
    rows: &HashMap<Key, FileRow>,
    now: &str,
) -> Result<(), ApiError> {
    let records: Vec<EventRecord> = fresh
        .iter()
        .map(|&i| {
            let ev = &batch.events[i];
            let data = match &ev.body {
                // The QC document is kept once, in `file_docs`.
                EventBody::Processed { .. } => "{}".to_string(),
                body => serde_json::to_value(body)
                    .map(|v| v["data"].to_string())
                    .unwrap_or_default(),
            };
            (
                ev.id.as_str(),
                rows[&key_of(ev)].id,
                ev.body.kind(),
                times[i].as_str(),
                data,
            )
        })
        .collect();
    store::insert_events(tx, &batch.agent, now, &records).await?;
    for &i in fresh {
        let ev = &batch.events[i];
        write_copy(tx, rows[&key_of(ev)].id, ev, &times[i]).await?;
    }
    Ok(())
}
