//! `qc:` — limits on the QC figures of each channel, and who is told when a file breaks one.
//!
//! A saturated or out-of-focus acquisition is only worth knowing about while the sample is
//! still on the stage, so the agent checks these as soon as QC is known and notifies at once.

use crate::fields::Fields;
use crate::node::{Node, Pos, Value};
use crate::reader::Reader;
use crate::values;

/// A finite threshold. Compared by bits so the model keeps `Eq` (thresholds are never NaN).
#[derive(Clone, Copy, Debug)]
pub struct Limit(pub f64);

impl PartialEq for Limit {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Limit {}

/// The rules of one channel (or of every channel); an absent rule is not checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QcRules {
    /// Highest fraction of saturated pixels accepted, 0 to 1.
    pub saturation_max: Option<Limit>,
    /// Lowest signal-to-noise ratio accepted.
    pub snr_min: Option<Limit>,
    /// Lowest focus score accepted (see the README's definition).
    pub focus_min: Option<Limit>,
}

impl QcRules {
    /// `self`, with each rule `over` sets replaced by its value.
    #[must_use]
    pub fn overridden_by(self, over: &QcRules) -> QcRules {
        QcRules {
            saturation_max: over.saturation_max.or(self.saturation_max),
            snr_min: over.snr_min.or(self.snr_min),
            focus_min: over.focus_min.or(self.focus_min),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.saturation_max.is_none() && self.snr_min.is_none() && self.focus_min.is_none()
    }
}

/// Which channel a `qc.channels` entry is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelKey {
    /// 0-based, as `qc --json` numbers channels.
    Index(usize),
    /// The channel's name in the file's metadata.
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailSettings {
    /// SMTP server.
    pub host: String,
    /// Default 587 (submission with STARTTLS).
    pub port: u16,
    pub from: String,
    /// At least one address.
    pub to: Vec<String>,
    /// Upgrade the connection with STARTTLS before sending (default true); false only for a
    /// relay on the local network that does not offer it.
    pub starttls: bool,
    /// Environment variables holding the SMTP login; both or neither.
    pub username_env: Option<String>,
    pub password_env: Option<String>,
}

/// One way of telling people about an alarm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notify {
    /// JSON POST (Slack/Mattermost-compatible `text` plus the alarm's fields).
    Webhook {
        url: String,
    },
    Email(EmailSettings),
    /// The acquisition PC's desktop (a notification where possible, a log line always).
    Desktop,
}

impl Notify {
    /// Short name used in the journal and in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Notify::Webhook { .. } => "webhook",
            Notify::Email(_) => "email",
            Notify::Desktop => "desktop",
        }
    }
}

/// The `qc:` section; empty (no rule, nobody notified) when absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QcConfig {
    /// Rules for every channel.
    pub rules: QcRules,
    /// Per-channel rules, overriding `rules` one rule at a time, in file order.
    pub channels: Vec<(ChannelKey, QcRules)>,
    pub notify: Vec<Notify>,
}

impl QcConfig {
    /// The rules that apply to channel `index` (named `name` in the file, if it is).
    pub fn rules_for(&self, index: usize, name: Option<&str>) -> QcRules {
        self.channels
            .iter()
            .filter(|(key, _)| match key {
                ChannelKey::Index(i) => *i == index,
                ChannelKey::Name(n) => Some(n.as_str()) == name,
            })
            .fold(self.rules, |acc, (_, over)| acc.overridden_by(over))
    }

    /// Whether any channel has any rule.
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty() || self.channels.iter().any(|(_, r)| !r.is_empty())
    }
}

const KEYS: &[&str] = &[
    "saturation_max",
    "snr_min",
    "focus_min",
    "channels",
    "notify",
];
const RULE_KEYS: &[&str] = &["saturation_max", "snr_min", "focus_min"];
const EMAIL_KEYS: &[&str] = &[
    "host",
    "port",
    "from",
    "to",
    "starttls",
    "username_env",
    "password_env",
];

pub(crate) fn read_qc(node: &Node, r: &mut Reader) -> QcConfig {
    let mut out = QcConfig::default();
    let Some(f) = Fields::read(node, "qc", r) else {
        return out;
    };
    f.allow(KEYS, r);
    out.rules = read_rules(&f, r);
    if let Some((node, _)) = f.get("channels") {
        out.channels = read_channels(node, r);
    }
    if let Some((node, pos)) = f.get("notify") {
        out.notify = read_notify(node, pos, r);
    }
    if !out.notify.is_empty()
        && !out.has_rules()
        && let Some(pos) = f.key_pos("notify")
    {
        r.error(
            pos,
            "qc.notify: nothing to notify about; add a rule (saturation_max, snr_min or focus_min)",
        );
    }
    out
}

fn read_rules(f: &Fields<'_>, r: &mut Reader) -> QcRules {
    let number = |key: &str, min: f64, max: Option<f64>, r: &mut Reader| {
        let (node, pos) = f.get(key)?;
        number(node, pos, &f.key_path(key), min, max, r).map(Limit)
    };
    QcRules {
        saturation_max: number("saturation_max", 0.0, Some(1.0), r),
        snr_min: number("snr_min", f64::NEG_INFINITY, None, r),
        focus_min: number("focus_min", 0.0, None, r),
    }
}

/// A finite number in `min..=max`.
fn number(
    node: &Node,
    pos: Pos,
    key: &str,
    min: f64,
    max: Option<f64>,
    r: &mut Reader,
) -> Option<f64> {
    let v = match node.value {
        // Thresholds are small; i128 -> f64 only rounds past 2^53, far beyond any figure.
        #[allow(clippy::cast_precision_loss)]
        Value::Int(n) => n as f64,
        Value::Float(x) if x.is_finite() => x,
        _ => {
            r.error(
                pos,
                format!("{key}: expected a number, found {}", node.describe()),
            );
            return None;
        }
    };
    let in_range = v >= min && max.is_none_or(|m| v <= m);
    if !in_range {
        let range = match max {
            Some(m) => format!("between {min} and {m}"),
            None => format!("at least {min}"),
        };
        r.error(pos, format!("{key}: must be {range}, found {v}"));
        return None;
    }
    Some(v)
}

fn read_channels(node: &Node, r: &mut Reader) -> Vec<(ChannelKey, QcRules)> {
    let mut out = Vec::new();
    // Reports a value that is not a map, repeated keys and keys that are not plain names.
    if Fields::read(node, "qc.channels", r).is_none() {
        return out;
    }
    let Value::Map(pairs) = &node.value else {
        return out;
    };
    let mut seen: Vec<&Node> = Vec::new();
    for (key, value) in pairs {
        let channel = match &key.value {
            Value::Int(i) => match usize::try_from(*i) {
                Ok(i) => ChannelKey::Index(i),
                Err(_) => {
                    r.error(
                        key.pos,
                        format!("qc.channels: channel index must be 0 or more, found {i}"),
                    );
                    continue;
                }
            },
            Value::Seq(_) | Value::Map(_) | Value::Null => continue,
            _ => ChannelKey::Name(key.scalar_text().unwrap_or_default()),
        };
        if seen.iter().any(|k| k.scalar_text() == key.scalar_text()) {
            continue;
        }
        seen.push(key);
        let path = format!("qc.channels.{}", key.scalar_text().unwrap_or_default());
        let Some(f) = Fields::read(value, &path, r) else {
            continue;
        };
        f.allow(RULE_KEYS, r);
        out.push((channel, read_rules(&f, r)));
    }
    out
}

fn read_notify(node: &Node, pos: Pos, r: &mut Reader) -> Vec<Notify> {
    let Some(items) = values::list(node, pos, "qc.notify", r) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("qc.notify[{i}]");
        let Some(f) = Fields::read(item, &path, r) else {
            continue;
        };
        f.allow(&["webhook", "email", "desktop"], r);
        let given: Vec<&str> = ["webhook", "email", "desktop"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        if given.len() != 1 {
            r.error(
                item.pos,
                format!(
                    "{path}: expected exactly one of webhook, email or desktop, found {}",
                    if given.is_empty() {
                        "none".to_owned()
                    } else {
                        given.join(" and ")
                    }
                ),
            );
            continue;
        }
        let notify = match given[0] {
            "webhook" => read_webhook(&f, r),
            "email" => f
                .get("email")
                .and_then(|(node, _)| read_email(node, &f.key_path("email"), r)),
            _ => read_desktop(&f, r),
        };
        out.extend(notify);
    }
    out
}

fn read_webhook(f: &Fields<'_>, r: &mut Reader) -> Option<Notify> {
    let url = f.string("webhook", r)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        if let Some((_, pos)) = f.get("webhook") {
            r.error(
                pos,
                format!(
                    "{}: expected a URL starting with http:// or https://, found {url:?}",
                    f.key_path("webhook")
                ),
            );
        }
        return None;
    }
    Some(Notify::Webhook { url })
}

fn read_desktop(f: &Fields<'_>, r: &mut Reader) -> Option<Notify> {
    let on = f.boolean("desktop", r)?;
    if !on {
        if let Some((_, pos)) = f.get("desktop") {
            r.error(
                pos,
                format!(
                    "{}: only `desktop: true` is meaningful; remove the entry to turn it off",
                    f.key_path("desktop")
                ),
            );
        }
        return None;
    }
    Some(Notify::Desktop)
}

fn read_email(node: &Node, path: &str, r: &mut Reader) -> Option<Notify> {
    let f = Fields::read(node, path, r)?;
    f.allow(EMAIL_KEYS, r);
    let host = f.required_string("host", r).filter(|h| {
        let ok = !h.is_empty();
        if !ok && let Some((_, pos)) = f.get("host") {
            r.error(pos, format!("{path}.host: must not be empty"));
        }
        ok
    });
    let port = match f.get("port") {
        Some(_) => f.whole::<u16>("port", 1, r),
        None => Some(587),
    };
    let from = f
        .required_string("from", r)
        .filter(|a| address(a, &f, "from", path, r));
    let to = f.require("to", r).and_then(|(node, pos)| {
        let key = format!("{path}.to");
        let list: Vec<(String, Pos)> = match &node.value {
            Value::Str(s) => vec![(s.clone(), pos)],
            _ => values::strings(node, pos, &key, r)?,
        };
        if list.is_empty() {
            r.error(pos, format!("{key}: needs at least one address"));
            return None;
        }
        let mut ok = true;
        for (a, p) in &list {
            if !a.contains('@') {
                r.error(*p, format!("{key}: {a:?} is not an e-mail address"));
                ok = false;
            }
        }
        ok.then(|| list.into_iter().map(|(a, _)| a).collect())
    });
    let starttls = f.boolean("starttls", r).unwrap_or(true);
    let username_env = f.env_name("username_env", r);
    let password_env = f.env_name("password_env", r);
    if username_env.is_some() != password_env.is_some() {
        r.error(
            f.pos(),
            format!("{path}: username_env and password_env go together; give both or neither"),
        );
    }
    Some(Notify::Email(EmailSettings {
        host: host?,
        port: port?,
        from: from?,
        to: to?,
        starttls,
        username_env,
        password_env,
    }))
}

fn address(a: &str, f: &Fields<'_>, key: &str, path: &str, r: &mut Reader) -> bool {
    let ok = a.contains('@');
    if !ok && let Some((_, pos)) = f.get(key) {
        r.error(pos, format!("{path}.{key}: {a:?} is not an e-mail address"));
    }
    ok
}
