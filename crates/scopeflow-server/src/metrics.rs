//! `GET /metrics`: Prometheus text computed at scrape time from the aggregates (a scrape costs a
//! few indexed reads, so there is no in-memory registry to keep in step with the database).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use scopeflow_core::FileState;
use sqlx::Row;

use crate::api::AppState;
use crate::error::ApiError;

pub async fn render(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut out = String::new();
    let counts =
        sqlx::query("SELECT agent, state, files, bytes FROM state_counts ORDER BY agent, state")
            .fetch_all(&state.db.pool)
            .await?;
    let mut by_state = [0i64; FileState::ALL.len()];
    let mut transferred = 0i64;
    out.push_str("# HELP scopeflow_files File versions in the catalog, by agent and state.\n# TYPE scopeflow_files gauge\n");
    let mut bytes_lines = String::new();
    for r in &counts {
        let agent: String = r.try_get("agent")?;
        let s: String = r.try_get("state")?;
        let files: i64 = r.try_get("files")?;
        let bytes: i64 = r.try_get("bytes")?;
        if let Some(i) = FileState::ALL.iter().position(|x| x.as_str() == s) {
            by_state[i] = by_state[i].saturating_add(files);
        }
        if let Ok(FileState::Transferred | FileState::Verified | FileState::Purged) = s.parse() {
            transferred = transferred.saturating_add(bytes);
        }
        let a = escape(&agent);
        let _ = writeln!(
            out,
            "scopeflow_files{{agent=\"{a}\",state=\"{s}\"}} {files}"
        );
        let _ = writeln!(
            bytes_lines,
            "scopeflow_file_bytes{{agent=\"{a}\",state=\"{s}\"}} {bytes}"
        );
    }
    out.push_str("# HELP scopeflow_file_bytes Raw bytes of the file versions, by agent and state.\n# TYPE scopeflow_file_bytes gauge\n");
    out.push_str(&bytes_lines);
    out.push_str("# HELP scopeflow_files_by_state File versions in each state, all agents.\n# TYPE scopeflow_files_by_state gauge\n");
    for (s, n) in FileState::ALL.iter().zip(by_state) {
        let _ = writeln!(out, "scopeflow_files_by_state{{state=\"{s}\"}} {n}");
    }
    out.push_str("# HELP scopeflow_bytes_transferred Raw bytes with at least one verified copy.\n# TYPE scopeflow_bytes_transferred gauge\n");
    let _ = writeln!(out, "scopeflow_bytes_transferred {transferred}");
    let alarms = crate::reports::alarm_count(&state).await?;
    out.push_str("# HELP scopeflow_qc_alarms Channels whose saturation fraction is over the alarm threshold.\n# TYPE scopeflow_qc_alarms gauge\n");
    let _ = writeln!(out, "scopeflow_qc_alarms {alarms}");
    out.push_str("# HELP scopeflow_qc_alarms_total QC alarms raised by the agents' qc: rules, by instrument and rule.\n# TYPE scopeflow_qc_alarms_total counter\n");
    for (instrument, rule, n) in crate::alarms::totals(&state).await? {
        let _ = writeln!(
            out,
            "scopeflow_qc_alarms_total{{instrument=\"{}\",rule=\"{}\"}} {n}",
            escape(&instrument),
            escape(&rule)
        );
    }
    let agents = sqlx::query("SELECT name, last_seen, queue FROM agents ORDER BY name")
        .fetch_all(&state.db.pool)
        .await?;
    out.push_str("# HELP scopeflow_agents Agents that have reported at least once.\n# TYPE scopeflow_agents gauge\n");
    let _ = writeln!(out, "scopeflow_agents {}", agents.len());
    out.push_str("# HELP scopeflow_agent_last_seen_seconds Unix time of the agent's last batch.\n# TYPE scopeflow_agent_last_seen_seconds gauge\n");
    let mut queues = String::new();
    for r in &agents {
        let name: String = r.try_get("name")?;
        let seen: String = r.try_get("last_seen")?;
        let secs = chrono::DateTime::parse_from_rfc3339(&seen).map_or(0, |t| t.timestamp());
        let a = escape(&name);
        let _ = writeln!(
            out,
            "scopeflow_agent_last_seen_seconds{{agent=\"{a}\"}} {secs}"
        );
        if let Some(q) = r.try_get::<Option<i64>, _>("queue")? {
            let _ = writeln!(queues, "scopeflow_agent_queue{{agent=\"{a}\"}} {q}");
        }
    }
    out.push_str("# HELP scopeflow_agent_queue Files waiting at the agent when it last reported.\n# TYPE scopeflow_agent_queue gauge\n");
    out.push_str(&queues);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

/// Label values escape backslash, quote and newline (exposition format).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
