//! `qc:` rules and notifications: what the model holds, and each mistake at its line and column.

use scopeflow_pipeline::{ChannelKey, EmailSettings, Limit, Notify, QcRules};

use crate::util::{Dir, MINIMAL, at};

#[test]
fn the_minimal_form_is_accepted_as_written() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}qc: {{saturation_max: 0.001, snr_min: 5, notify: [{{webhook: http://127.0.0.1:9/hook}}]}}\n"
    );
    let p = d.parse(&yaml).unwrap();
    assert_eq!(
        p.qc.rules,
        QcRules {
            saturation_max: Some(Limit(0.001)),
            snr_min: Some(Limit(5.0)),
            focus_min: None
        }
    );
    assert_eq!(
        p.qc.notify,
        [Notify::Webhook {
            url: "http://127.0.0.1:9/hook".into()
        }]
    );
    // Top-level rules apply to every channel.
    assert_eq!(p.qc.rules_for(3, Some("DAPI")), p.qc.rules);
}

#[test]
fn absent_means_no_rule() {
    let d = Dir::new();
    let p = d.parse(MINIMAL).unwrap();
    assert!(!p.qc.has_rules());
    assert!(p.qc.notify.is_empty());
}

#[test]
fn channels_override_one_rule_at_a_time() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}qc:
  snr_min: 5
  saturation_max: 0.01
  channels:
    1: {{snr_min: 2}}
    GFP: {{focus_min: 0.5, saturation_max: 0}}
  notify:
    - desktop: true
    - email:
        host: smtp.example.org
        from: scope@example.org
        to: [a@example.org, b@example.org]
        username_env: SMTP_USER
        password_env: SMTP_PASSWORD
"
    );
    let p = d.parse(&yaml).unwrap();
    assert_eq!(p.qc.channels.len(), 2);
    assert_eq!(p.qc.channels[0].0, ChannelKey::Index(1));
    assert_eq!(p.qc.channels[1].0, ChannelKey::Name("GFP".into()));
    let c1 = p.qc.rules_for(1, Some("GFP"));
    assert_eq!(c1.snr_min, Some(Limit(2.0)));
    assert_eq!(c1.saturation_max, Some(Limit(0.0)));
    assert_eq!(c1.focus_min, Some(Limit(0.5)));
    let c0 = p.qc.rules_for(0, Some("DAPI"));
    assert_eq!(c0.snr_min, Some(Limit(5.0)));
    assert_eq!(c0.saturation_max, Some(Limit(0.01)));
    assert_eq!(c0.focus_min, None);
    assert_eq!(
        p.qc.notify,
        [
            Notify::Desktop,
            Notify::Email(EmailSettings {
                host: "smtp.example.org".into(),
                port: 587,
                from: "scope@example.org".into(),
                to: vec!["a@example.org".into(), "b@example.org".into()],
                starttls: true,
                username_env: Some("SMTP_USER".into()),
                password_env: Some("SMTP_PASSWORD".into()),
            })
        ]
    );
}

#[test]
fn saturation_is_a_fraction() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}qc:\n  saturation_max: 2\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            10,
            19,
            "qc.saturation_max: must be between 0 and 1, found 2"
        )
    );
}

#[test]
fn rule_must_be_a_number() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}qc:\n  snr_min: high\n");
    assert_eq!(
        d.problem(&yaml),
        at(10, 12, "qc.snr_min: expected a number, found \"high\"")
    );
}

#[test]
fn unknown_rule_in_a_channel() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}qc:\n  channels:\n    DAPI:\n      snr_max: 3\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            12,
            7,
            "unknown key `snr_max` in qc.channels.DAPI; did you mean `snr_min`? allowed: saturation_max, snr_min, focus_min"
        )
    );
}

#[test]
fn negative_channel_index() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}qc:\n  channels:\n    -1: {{snr_min: 3}}\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            11,
            5,
            "qc.channels: channel index must be 0 or more, found -1"
        )
    );
}

#[test]
fn webhook_needs_a_url() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}qc:\n  snr_min: 3\n  notify:\n    - webhook: hooks.example.org\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            12,
            16,
            "qc.notify[0].webhook: expected a URL starting with http:// or https://, found \"hooks.example.org\""
        )
    );
}

#[test]
fn one_kind_per_notify_entry() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}qc:\n  snr_min: 3\n  notify:\n    - webhook: http://h/x\n      desktop: true\n"
    );
    assert_eq!(
        d.problem(&yaml),
        at(
            12,
            7,
            "qc.notify[0]: expected exactly one of webhook, email or desktop, found webhook and desktop"
        )
    );
}

#[test]
fn email_password_never_in_the_file() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}qc:\n  snr_min: 3\n  notify:\n    - email:\n        host: smtp\n        from: a@b\n        to: c@d\n        password: hunter2\n"
    );
    assert_eq!(
        d.problem(&yaml),
        at(
            16,
            9,
            "qc.notify[0].email.password: secrets never go in the pipeline file; use `password_env` with the name of an environment variable that holds it"
        )
    );
}

#[test]
fn email_needs_a_recipient() {
    let d = Dir::new();
    let yaml = format!(
        "{MINIMAL}qc:\n  snr_min: 3\n  notify:\n    - email:\n        host: smtp\n        from: a@b\n"
    );
    assert_eq!(
        d.problem(&yaml),
        at(13, 9, "qc.notify[0].email: missing required key `to`")
    );
}

#[test]
fn notify_without_rules_is_a_mistake() {
    let d = Dir::new();
    let yaml = format!("{MINIMAL}qc:\n  notify:\n    - desktop: true\n");
    assert_eq!(
        d.problem(&yaml),
        at(
            10,
            3,
            "qc.notify: nothing to notify about; add a rule (saturation_max, snr_min or focus_min)"
        )
    );
}
