//! The journal-only checks, on hand-made rows.
use scopeflow_journal::{CopyRow, FileRow};

use super::*;

const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn file(state: &str, copies: &[(&str, &str)]) -> FileStatus {
    let t = "2026-01-01T00:00:00.000Z".to_string();
    FileStatus {
        file: FileRow {
            id: 1,
            watch: "acq".into(),
            rel: "a.tif".into(),
            version: 1,
            size: 10,
            mtime_ns: 5,
            sha256: Some(SHA.into()),
            state: state.parse().unwrap(),
            failed_from: None,
            error: None,
            attempts: 0,
            next_attempt_at: None,
            discovered_at: t.clone(),
            stable_at: None,
            processed_at: None,
            transferred_at: None,
            verified_at: None,
            purged_at: None,
            updated_at: t.clone(),
        },
        format: None,
        copies: copies
            .iter()
            .map(|(d, s)| CopyRow {
                file_id: 1,
                destination: (*d).into(),
                state: s.parse().unwrap(),
                sha256: Some(SHA.into()),
                transferred_at: None,
                verified_at: Some(t.clone()),
                error: None,
                updated_at: t.clone(),
                path: None,
            })
            .collect(),
    }
}

fn policy(required: &[&str], min: Option<u32>) -> Retention {
    let mut p = Retention::with_destinations(&["nas".to_string()]);
    p.require_verified = required.iter().map(|s| (*s).to_string()).collect();
    p.min_copies = min;
    p
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn age_counts_from_ingest() {
    let f = file("verified", &[("nas", "verified")]);
    let p = policy(&["nas"], None);
    let k = judge(&f, &p, at("2026-03-01T00:00:00Z")).unwrap_err();
    assert_eq!(k.code, "too_young");
    assert!(
        k.reason.contains("eligible from 2026-03-02T00:00:00Z"),
        "{}",
        k.reason
    );
    let el = judge(&f, &p, at("2026-03-02T00:00:00Z")).unwrap();
    assert_eq!(el.age, Duration::from_secs(60 * 86_400));
}

#[test]
fn every_required_copy_must_be_verified() {
    let later = at("2027-01-01T00:00:00Z");
    let f = file("verified", &[("nas", "verified"), ("usb", "invalid")]);
    let k = judge(&f, &policy(&["nas", "usb"], None), later).unwrap_err();
    assert_eq!(k.code, "not_verified");
    assert!(k.reason.contains("usb (copy: invalid)"), "{}", k.reason);
    let k = judge(&file("processed", &[]), &policy(&["nas"], None), later).unwrap_err();
    assert_eq!(k.reason, "not verified: the file is processed");
    let mut wrong = file("verified", &[("nas", "verified")]);
    wrong.copies[0].sha256 = Some("f".repeat(64));
    assert_eq!(
        judge(&wrong, &policy(&["nas"], None), later)
            .unwrap_err()
            .code,
        "not_verified"
    );
}

#[test]
fn min_copies_counts_every_destination() {
    let later = at("2027-01-01T00:00:00Z");
    let f = file("verified", &[("nas", "verified"), ("usb", "verified")]);
    let el = judge(&f, &policy(&["nas"], Some(2)), later).unwrap();
    assert_eq!(el.verified_at.len(), 2);
    assert_eq!(el.verified_at[0].0, "nas", "required destinations first");
    let k = judge(&f, &policy(&["nas"], Some(3)), later).unwrap_err();
    assert_eq!(k.reason, "min_copies: 2 verified copies, 3 required");
}

#[test]
fn ages_read_at_a_glance() {
    assert_eq!(
        human(Duration::from_secs(75 * 86_400 + 3 * 3_600)),
        "75d 3h"
    );
    assert_eq!(human(Duration::from_secs(3_720)), "1h 2m");
    assert_eq!(human(Duration::from_secs(40)), "40s");
}
