//! Where verified copies go. Credentials are named here (environment variables, key files),
//! never written, so the file can be shared and committed.

use std::path::PathBuf;

use scopeflow_core::{S3Settings, SftpSettings, SftpUrl};

use crate::fields::Fields;
use crate::node::{Node, Pos, Value};
use crate::reader::{Expect, Reader};
use crate::values;

/// One entry of `destinations:`, as written; `scopeflow-destinations` opens it as a live
/// `scopeflow_transfer::Destination`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationConfig {
    /// Unique within the pipeline; what `retention.require_verified` refers to.
    pub name: String,
    pub kind: DestinationKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    /// A folder on this machine or a mounted share. It may be missing at check time (share
    /// not mounted yet): the agent then retries later.
    Local {
        path: PathBuf,
    },
    Sftp(SftpSettings),
    S3(S3Settings),
}

impl DestinationKind {
    pub fn name(&self) -> &'static str {
        match self {
            DestinationKind::Local { .. } => "local",
            DestinationKind::Sftp(_) => "sftp",
            DestinationKind::S3(_) => "s3",
        }
    }
}

const KINDS: &[&str] = &["local", "sftp", "s3"];
const LOCAL_KEYS: &[&str] = &["name", "kind", "path"];
const SFTP_KEYS: &[&str] = &[
    "name",
    "kind",
    "url",
    "identity",
    "password_env",
    "known_hosts",
    "parallel",
    "remote_sha256",
];
const S3_KEYS: &[&str] = &[
    "name",
    "kind",
    "bucket",
    "prefix",
    "endpoint",
    "region",
    "access_key_env",
    "secret_key_env",
    "allow_http",
    "path_style",
    "read_back",
];

pub(crate) fn read_destinations(node: &Node, pos: Pos, r: &mut Reader) -> Vec<DestinationConfig> {
    let Some(items) = values::list(node, pos, "destinations", r) else {
        return Vec::new();
    };
    if items.is_empty() {
        r.error(
            pos,
            "destinations: must list at least one place to copy files to",
        );
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_destination(item, &format!("destinations[{i}]"), r))
        .collect()
}

fn read_destination(node: &Node, key: &str, r: &mut Reader) -> Option<DestinationConfig> {
    let f = Fields::read(node, key, r)?;
    let name = f.require("name", r).and_then(|(n, pos)| {
        let name = values::name(n, pos, &f.key_path("name"), r)?;
        r.sites
            .destinations
            .push((name.clone(), pos, key.to_owned()));
        Some(name)
    });
    let kind = match f.require("kind", r) {
        None => None,
        Some((node, pos)) => match &node.value {
            Value::Str(k) if KINDS.contains(&k.as_str()) => Some(k.as_str()),
            _ => {
                r.error(
                    pos,
                    format!(
                        "{}: must be one of local, sftp, s3, found {}",
                        f.key_path("kind"),
                        node.describe()
                    ),
                );
                None
            }
        },
    };
    let kind = match kind {
        Some("local") => read_local(&f, name.as_deref(), r),
        Some("sftp") => read_sftp(&f, r),
        Some("s3") => read_s3(&f, r),
        _ => {
            // Without a kind the allowed keys are unknown; report only what no kind accepts.
            let any: Vec<&str> = LOCAL_KEYS
                .iter()
                .chain(SFTP_KEYS)
                .chain(S3_KEYS)
                .copied()
                .collect();
            f.allow(&any, r);
            None
        }
    };
    Some(DestinationConfig {
        name: name?,
        kind: kind?,
    })
}

fn read_local(f: &Fields, name: Option<&str>, r: &mut Reader) -> Option<DestinationKind> {
    f.allow(LOCAL_KEYS, r);
    let (path, pos) = f.required_path("path", r)?;
    // An unmounted share is a run-time condition (the agent retries later), not a mistake in
    // the file: only something that can never work, a plain file in the way, is refused.
    if path.is_file() {
        r.expect_on_disk(&path, &f.key_path("path"), pos, Expect::Folder);
    }
    let label = format!("destination `{}`", name.unwrap_or("?"));
    r.sites.outputs.push((path.clone(), pos, label));
    Some(DestinationKind::Local { path })
}

fn read_sftp(f: &Fields, r: &mut Reader) -> Option<DestinationKind> {
    f.allow(SFTP_KEYS, r);
    let url = f.required_string("url", r).and_then(|url| {
        let (_, pos) = f.get("url")?;
        match SftpUrl::parse(&url) {
            Ok(url) => Some(url),
            Err(e) => {
                r.error(pos, format!("{}: {e}", f.key_path("url")));
                None
            }
        }
    });
    let identity = f.path("identity", r).map(|(path, pos)| {
        r.expect_on_disk(&path, &f.key_path("identity"), pos, Expect::File);
        path
    });
    let password_env = f.env_name("password_env", r);
    if !f.has("identity") && !f.has("password_env") {
        r.error(
            f.pos(),
            format!(
                "{}: sftp needs `identity` (a private key file) or `password_env` (the environment variable holding the password)",
                f.label()
            ),
        );
    }
    let known_hosts = f.required_path("known_hosts", r).map(|(path, pos)| {
        r.expect_on_disk(&path, &f.key_path("known_hosts"), pos, Expect::File);
        path
    });
    let parallel = f
        .whole::<usize>("parallel", 1, r)
        .unwrap_or(SftpSettings::DEFAULT_PARALLEL);
    let remote_sha256 = f.boolean("remote_sha256", r).unwrap_or(false);
    Some(DestinationKind::Sftp(SftpSettings {
        url: url?,
        identity,
        password_env,
        known_hosts: known_hosts?,
        parallel,
        remote_sha256,
    }))
}

fn read_s3(f: &Fields, r: &mut Reader) -> Option<DestinationKind> {
    f.allow(S3_KEYS, r);
    let bucket = f.required_string("bucket", r).filter(|b| {
        let problem = bucket_problem(b);
        if let (Some(problem), Some((_, pos))) = (&problem, f.get("bucket")) {
            r.error(pos, format!("{}: {problem}", f.key_path("bucket")));
        }
        problem.is_none()
    });
    let prefix = f.string("prefix", r);
    if let Some(prefix) = &prefix
        && prefix.starts_with('/')
        && let Some((_, pos)) = f.get("prefix")
    {
        r.error(
            pos,
            format!(
                "{}: starts inside the bucket; drop the leading /",
                f.key_path("prefix")
            ),
        );
    }
    let allow_http = f.boolean("allow_http", r);
    let endpoint = f.string("endpoint", r);
    if let (Some(endpoint), Some((_, pos))) = (&endpoint, f.get("endpoint")) {
        let key = f.key_path("endpoint");
        if endpoint.starts_with("http://") {
            if allow_http != Some(true) {
                r.error(pos, format!("{key}: plain http sends data unencrypted; use https, or set allow_http: true for a test server"));
            }
        } else if !endpoint.starts_with("https://") {
            r.error(
                pos,
                format!("{key}: expected a URL starting with https://, found {endpoint:?}"),
            );
        }
    }
    let region = f.string("region", r);
    let access_key_env = f.required_env_name("access_key_env", r);
    let secret_key_env = f.required_env_name("secret_key_env", r);
    let path_style = f.boolean("path_style", r);
    let read_back = f.boolean("read_back", r);
    // The defaults are `S3Settings::new`'s; only what the file says replaces them.
    let mut s = S3Settings::new(&bucket?, &access_key_env?, &secret_key_env?);
    if let Some(prefix) = prefix {
        s.prefix = prefix.trim_matches('/').to_owned();
    }
    s.endpoint = endpoint;
    s.region = region.unwrap_or(s.region);
    s.allow_http = allow_http.unwrap_or(s.allow_http);
    s.path_style = path_style;
    s.read_back = read_back.unwrap_or(s.read_back);
    Some(DestinationKind::S3(s))
}

/// The rules S3, MinIO and Ceph share, so a typo fails the check rather than the first upload.
fn bucket_problem(bucket: &str) -> Option<String> {
    let len = bucket.len();
    if !(3..=63).contains(&len) {
        return Some(format!(
            "bucket names are 3 to 63 characters long, found {len}"
        ));
    }
    if let Some(c) = bucket
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-')))
    {
        return Some(format!(
            "bucket names hold only lowercase letters, digits, '.' and '-', not {c:?}"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return Some("bucket names start and end with a letter or a digit".to_owned());
    }
    None
}
