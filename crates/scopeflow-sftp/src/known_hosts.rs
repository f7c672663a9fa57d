//! Host keys checked against a `known_hosts` file in OpenSSH's format, never learned.
//!
//! Our own reading rather than russh's: it must tell an unknown host from a changed key from a
//! revoked one (the operator's next step differs), and read what OpenSSH writes (hashed names,
//! `[host]:port`, patterns, markers) without failing on a line it does not understand.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use russh::keys::{PublicKey, parse_public_key_base64};
use sha1::Sha1;

/// What the file says about the key a server showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Known,
    /// The host is listed with another key of the same type (line numbers from 1).
    Changed {
        lines: Vec<usize>,
    },
    /// A `@revoked` line lists this very key.
    Revoked {
        line: usize,
    },
    /// No line for this host has a key of this type.
    Unknown,
}

/// The entries of a known_hosts file that name one host and port.
pub(crate) struct KnownKeys {
    /// (line, key) of plain entries for the host.
    keys: Vec<(usize, PublicKey)>,
    /// (line, key) of `@revoked` entries for the host.
    revoked: Vec<(usize, PublicKey)>,
}

impl KnownKeys {
    /// Reads `path` for `host`:`port`. A missing or unreadable file is an error (an empty
    /// trust list is never what an operator meant); lines that do not parse are skipped.
    pub(crate) fn load(path: &Path, host: &str, port: u16) -> std::io::Result<KnownKeys> {
        let text = std::fs::read_to_string(path)?;
        Ok(KnownKeys::parse(&text, host, port))
    }

    pub(crate) fn parse(text: &str, host: &str, port: u16) -> KnownKeys {
        let label = if port == 22 {
            host.to_owned()
        } else {
            format!("[{host}]:{port}")
        };
        let mut known = KnownKeys {
            keys: Vec::new(),
            revoked: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let marker = first.strip_prefix('@');
            if marker.is_some() {
                first = fields.next().unwrap_or_default();
            }
            let (Some(_kind), Some(b64)) = (fields.next(), fields.next()) else {
                continue;
            };
            if !hosts_match(first, &label) {
                continue;
            }
            let Ok(key) = parse_public_key_base64(b64) else {
                continue;
            };
            match marker {
                None => known.keys.push((i + 1, key)),
                Some("revoked") => known.revoked.push((i + 1, key)),
                // Host certificates are not accepted: `@cert-authority` lines trust nothing here.
                Some(_) => {}
            }
        }
        known
    }

    pub(crate) fn check(&self, key: &PublicKey) -> Verdict {
        if let Some((line, _)) = self
            .revoked
            .iter()
            .find(|(_, k)| k.key_data() == key.key_data())
        {
            return Verdict::Revoked { line: *line };
        }
        if self
            .keys
            .iter()
            .any(|(_, k)| k.key_data() == key.key_data())
        {
            return Verdict::Known;
        }
        let lines: Vec<usize> = self
            .keys
            .iter()
            .filter(|(_, k)| k.algorithm() == key.algorithm())
            .map(|(line, _)| *line)
            .collect();
        if lines.is_empty() {
            Verdict::Unknown
        } else {
            Verdict::Changed { lines }
        }
    }

    /// The key types listed for the host, in file order, so the client can ask the server for
    /// one of those first (as OpenSSH does) rather than be refused for showing another.
    pub(crate) fn algorithms(&self) -> Vec<russh::keys::Algorithm> {
        let mut out = Vec::new();
        for (_, k) in &self.keys {
            if !out.contains(&k.algorithm()) {
                out.push(k.algorithm());
            }
        }
        out
    }
}

/// OpenSSH's rules: comma-separated patterns, `!` negates (and wins), `*` and `?` wildcards,
/// `|1|salt|hash` hashed names.
fn hosts_match(patterns: &str, label: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        let hit = if let Some(hashed) = pattern.strip_prefix("|1|") {
            hashed_match(hashed, label)
        } else {
            wildcard_match(pattern.as_bytes(), label.as_bytes())
        };
        if hit && negated {
            return false;
        }
        matched |= hit;
    }
    matched
}

fn hashed_match(salt_and_hash: &str, label: &str) -> bool {
    use data_encoding::BASE64;
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(label.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// Case-insensitive, like host names.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| wildcard_match(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard_match(rest, &text[1..]),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, tail)| t.eq_ignore_ascii_case(c) && wildcard_match(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two real ed25519 public keys (generated with ssh-keygen for this test).
    const A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIAL9Je8hHTQsOxMJrHDmYN36crqR1DtLrSIlEbDt0dJx";
    const B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIFsael9w6WzSmEwRO5GwGZCHkubA94D8duld7lnXiCRW";

    fn key(b64: &str) -> PublicKey {
        parse_public_key_base64(b64).unwrap()
    }

    #[test]
    fn plain_ported_and_pattern_entries() {
        let text = format!(
            "# comment\n[127.0.0.1]:2222 ssh-ed25519 {A}\nbad line\n*.example.org,!evil.example.org ssh-ed25519 {B} c\n"
        );
        let k = KnownKeys::parse(&text, "127.0.0.1", 2222);
        assert_eq!(k.check(&key(A)), Verdict::Known);
        assert_eq!(k.check(&key(B)), Verdict::Changed { lines: vec![2] });
        let k = KnownKeys::parse(&text, "127.0.0.1", 22);
        assert_eq!(k.check(&key(A)), Verdict::Unknown);
        let k = KnownKeys::parse(&text, "Data.Example.org", 22);
        assert_eq!(k.check(&key(B)), Verdict::Known);
        let k = KnownKeys::parse(&text, "evil.example.org", 22);
        assert_eq!(k.check(&key(B)), Verdict::Unknown);
    }

    #[test]
    fn hashed_and_revoked() {
        // `ssh-keygen -H` form of "[localhost]:2200", salt chosen for the test.
        let salt = [7u8; 20];
        let mac = Hmac::<Sha1>::new_from_slice(&salt)
            .unwrap()
            .chain_update(b"[localhost]:2200")
            .finalize()
            .into_bytes();
        use data_encoding::BASE64;
        let line = format!(
            "|1|{}|{} ssh-ed25519 {A}\n@revoked * ssh-ed25519 {B}\n",
            BASE64.encode(&salt),
            BASE64.encode(&mac)
        );
        let k = KnownKeys::parse(&line, "localhost", 2200);
        assert_eq!(k.check(&key(A)), Verdict::Known);
        assert_eq!(k.check(&key(B)), Verdict::Revoked { line: 2 });
        assert_eq!(k.algorithms().len(), 1);
        let k = KnownKeys::parse(&line, "localhost", 2201);
        assert_eq!(k.check(&key(A)), Verdict::Unknown);
    }
}
