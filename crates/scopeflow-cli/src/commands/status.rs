//! `scopeflow status`: printed while the journal is read, one file at a time, so 100,000 files
//! start printing at once and never sit in memory together.

use std::io::{BufWriter, Write};
use std::ops::ControlFlow;

use scopeflow_journal::{FileStatus, StatusQuery};
use serde_json::{Value, json};

use super::{load_pipeline, runtime};
use crate::Failure;
use crate::flags::StatusArgs;

pub(crate) fn run(args: &StatusArgs) -> Result<(), Failure> {
    let query = query(args)?;
    let pipeline = load_pipeline(&args.config)?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if !pipeline.state.exists() {
        // Never ran: say so without creating an empty journal as a side effect.
        let said = if args.json {
            writeln!(out, "{{\"files\": [], \"rejected_events\": []}}")
        } else {
            writeln!(
                out,
                "no journal yet at {} (the agent has not run)",
                pipeline.state.display()
            )
        };
        return finish(said.and_then(|()| out.flush()));
    }
    let mut written = if args.json {
        write!(out, "{{\"files\": [")
    } else {
        writeln!(
            out,
            "{:<12} {:>3} {:<12} {:<14} {:<50} error",
            "state", "ver", "format", "sha256", "path"
        )
    };
    let mut first = true;
    let mut rejected = Vec::new();
    let mut throughput = None;
    if written.is_ok() {
        let read = runtime()?.block_on(async {
            let journal = scopeflow_journal::Journal::open(&pipeline.state).await?;
            journal
                .status_each(&query, |row| {
                    let r = if args.json {
                        json_row(&mut out, &row, first)
                    } else {
                        text_row(&mut out, &row)
                    };
                    first = false;
                    match r {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(e) => {
                            // A closed pipe (`status | head`) ends the listing: read no more.
                            written = Err(e);
                            ControlFlow::Break(())
                        }
                    }
                })
                .await?;
            Ok::<_, scopeflow_journal::JournalError>((
                journal.rejected().await?,
                Some(super::throughput::figures(&journal).await?),
            ))
        });
        (rejected, throughput) =
            read.map_err(|e| Failure::work(anyhow::anyhow!("{}: {e}", pipeline.state.display())))?;
    }
    // Events the central server refused for good: kept in the journal, never resent.
    let rejected: Vec<_> = rejected
        .into_iter()
        .map(|(id, kind, at, reason)| json!({"id": id, "kind": kind, "at": at, "reason": reason}))
        .collect();
    if written.is_ok() && args.json {
        written = writeln!(
            out,
            "{}], \"rejected_events\": {}, \"throughput\": {}}}",
            if first { "" } else { "\n" },
            Value::Array(rejected),
            throughput.as_ref().map_or(Value::Null, |t| t.to_json())
        );
    } else if written.is_ok() {
        for r in &rejected {
            if let Err(e) = writeln!(out, "event rejected by the central server: {r}") {
                written = Err(e);
                break;
            }
        }
        if let (Ok(()), Some(t)) = (&written, &throughput) {
            written = writeln!(out, "{}", super::throughput::line(t));
        }
    }
    finish(written.and_then(|()| out.flush()))
}

/// A reader that went away (`status | head`) is not an error.
fn finish(written: std::io::Result<()>) -> Result<(), Failure> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Failure::work),
    }
}

/// The flags as a journal query; a bad `--since` is a usage error (exit 2).
fn query(args: &StatusArgs) -> Result<StatusQuery, Failure> {
    let states = args
        .state
        .iter()
        .map(|s| s.parse().map_err(Failure::usage))
        .collect::<Result<_, _>>()?;
    let since = match args.since.as_deref() {
        None => None,
        Some(s) => Some(since(s).ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--since {s:?}: expected an RFC 3339 time (2026-12-01T08:00:00Z) or a duration back from now (30m, 12h, 7d)"
            ))
        })?),
    };
    Ok(StatusQuery {
        states,
        since,
        limit: args.limit,
        offset: args.offset,
    })
}

fn since(s: &str) -> Option<String> {
    use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            let back = scopeflow_pipeline::parse_duration(s).ok()?;
            Utc::now().checked_sub_signed(TimeDelta::from_std(back).ok()?)?
        }
    };
    Some(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn json_row(out: &mut impl Write, row: &FileStatus, first: bool) -> std::io::Result<()> {
    out.write_all(if first { b"\n  " } else { b",\n  " })?;
    serde_json::to_writer(&mut *out, &row.json_view()).map_err(std::io::Error::from)
}

fn text_row(out: &mut impl Write, r: &FileStatus) -> std::io::Result<()> {
    let f = &r.file;
    let sha = f.sha256.as_deref().map_or("-", |s| &s[..s.len().min(12)]);
    writeln!(
        out,
        "{:<12} {:>3} {:<12} {:<14} {:<50} {}",
        f.state,
        f.version,
        r.format.as_deref().unwrap_or("-"),
        sha,
        f.rel,
        f.error.as_deref().unwrap_or("")
    )?;
    for c in &r.copies {
        writeln!(
            out,
            "{:<12} {:>3} {:<12} {:<14}   -> {} {}",
            "",
            "",
            "",
            "",
            c.destination,
            c.verified_at.as_deref().unwrap_or(c.state.as_str())
        )?;
    }
    Ok(())
}
