//! The checks that need neither a destination nor the file's content: journal state, age,
//! copies recorded as verified, and a size/mtime look at the local file. `plan` stops here;
//! `run` goes on with re-verification and re-hashing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat, Utc};
use scopeflow_journal::{CopyState, FileState, FileStatus};
use scopeflow_pipeline::{Retention, format_duration};

/// A file that stays, and why: `code` for machines, `reason` for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Keep {
    pub code: &'static str,
    pub reason: String,
}

pub(crate) fn keep(code: &'static str, reason: impl Into<String>) -> Keep {
    Keep {
        code,
        reason: reason.into(),
    }
}

/// A file that passed the journal checks.
#[derive(Clone, Debug)]
pub(crate) struct Eligible {
    pub age: Duration,
    /// Destinations whose copy the journal records as verified, required ones first.
    pub verified_at: Vec<(String, String)>,
}

/// State, age, required copies and `min_copies`, from the journal alone.
pub(crate) fn judge(
    c: &FileStatus,
    policy: &Retention,
    now: DateTime<Utc>,
) -> Result<Eligible, Keep> {
    let f = &c.file;
    if f.state != FileState::Verified {
        let why = f
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(keep(
            "not_verified",
            format!("not verified: the file is {}{why}", f.state),
        ));
    }
    let ingested = DateTime::parse_from_rfc3339(&f.discovered_at)
        .map_err(|e| {
            keep(
                "failed",
                format!("journal: bad discovered_at {:?}: {e}", f.discovered_at),
            )
        })?
        .with_timezone(&Utc);
    let age = (now - ingested).to_std().unwrap_or(Duration::ZERO);
    if age < policy.purge_after {
        let from = chrono::TimeDelta::from_std(policy.purge_after)
            .ok()
            .and_then(|d| ingested.checked_add_signed(d))
            .map_or_else(
                || "never".to_string(),
                |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        return Err(keep(
            "too_young",
            format!(
                "too young: ingested {} ago, purge_after {}; eligible from {from}",
                human(age),
                format_duration(policy.purge_after)
            ),
        ));
    }
    let sha = f.sha256.as_deref().unwrap_or_default();
    let good = |d: &str| {
        c.copies.iter().find(|k| {
            k.destination == d && k.state == CopyState::Verified && k.sha256.as_deref() == Some(sha)
        })
    };
    let mut verified_at = Vec::new();
    for d in &policy.require_verified {
        match good(d) {
            Some(k) => verified_at.push((d.clone(), k.verified_at.clone().unwrap_or_default())),
            None => {
                let st = c
                    .copies
                    .iter()
                    .find(|k| k.destination == *d)
                    .map_or("none", |k| k.state.as_str());
                return Err(keep(
                    "not_verified",
                    format!("not verified: no verified copy at {d} (copy: {st})"),
                ));
            }
        }
    }
    for k in &c.copies {
        if !policy.require_verified.contains(&k.destination) && good(&k.destination).is_some() {
            verified_at.push((
                k.destination.clone(),
                k.verified_at.clone().unwrap_or_default(),
            ));
        }
    }
    if let Some(min) = policy.min_copies
        && verified_at.len() < min as usize
    {
        return Err(keep(
            "min_copies",
            format!(
                "min_copies: {} verified cop{}, {min} required",
                verified_at.len(),
                if verified_at.len() == 1 { "y" } else { "ies" }
            ),
        ));
    }
    Ok(Eligible { age, verified_at })
}

/// The local raw file of `c` under its watch folder, checked against the journal's size and
/// mtime. `Err` carries the keep reason and, for a modified file, its size and mtime now.
pub(crate) fn local(
    c: &FileStatus,
    watches: &HashMap<String, PathBuf>,
) -> Result<PathBuf, (Keep, Option<(u64, i64)>)> {
    let f = &c.file;
    let Some(root) = watches.get(&f.watch) else {
        return Err((
            keep(
                "unwatched",
                format!(
                    "not in the pipeline: watch folder {} is no longer configured",
                    f.watch
                ),
            ),
            None,
        ));
    };
    let path = root.join(&f.rel);
    match std::fs::metadata(&path) {
        Ok(m) if !m.is_file() => Err((
            keep(
                "missing",
                format!("missing locally: {} is not a file", path.display()),
            ),
            None,
        )),
        Ok(m) => {
            let (size, mtime) = (m.len(), mtime_ns(&m));
            if size == f.size && mtime == f.mtime_ns {
                Ok(path)
            } else {
                Err((
                    keep(
                        "modified",
                        format!(
                            "modified since ingest: {} bytes and mtime {mtime} now, {} bytes and mtime {} at ingest",
                            size, f.size, f.mtime_ns
                        ),
                    ),
                    Some((size, mtime)),
                ))
            }
        }
        Err(e) => Err((
            keep(
                "missing",
                format!(
                    "missing locally: {}: {e} (not deleted by the retention robot)",
                    path.display()
                ),
            ),
            None,
        )),
    }
}

/// The agent's mtime convention (nanoseconds since the Unix epoch, 0 if unknown).
pub(crate) fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Size and mtime of `path` now, if it is a file.
pub(crate) fn stat(path: &Path) -> Option<(u64, i64)> {
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| (m.len(), mtime_ns(&m)))
}

/// `75d 3h`, `5h 2m`, `40s`: enough to read an age at a glance.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {mins}m")
    } else if mins > 0 {
        format!("{mins}m {}s", s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
#[path = "assess_tests.rs"]
mod tests;
