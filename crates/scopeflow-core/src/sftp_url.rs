//! `sftp://[user@]host[:port]/path`, taken apart once so the transfer code and the pipeline
//! check agree on what a URL means.

/// The parts of an SFTP destination URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SftpUrl {
    /// `None`: the SSH client's default user.
    pub user: Option<String>,
    /// Host name or address; IPv6 without its brackets.
    pub host: String,
    /// 22 when the URL gives none.
    pub port: u16,
    /// Remote folder, as written (starts with `/`; no percent-decoding).
    pub path: String,
}

impl SftpUrl {
    /// # Errors
    /// What is wrong with the URL, in words meant for the operator. Never repeats a
    /// password, should the URL hold one.
    pub fn parse(url: &str) -> Result<SftpUrl, String> {
        const SHAPE: &str = "sftp://user@host:port/path";
        let Some(rest) = url.strip_prefix("sftp://") else {
            let scheme = url.split_once("://").map(|(s, _)| s);
            return Err(match scheme {
                Some(s) => format!("the URL scheme must be sftp, not {s:?}, as in {SHAPE}"),
                None => format!("expected a URL like {SHAPE}"),
            });
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => return Err(format!("the URL has no remote folder: expected {SHAPE}")),
        };
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, _)) if user.contains(':') => {
                return Err(
                    "the URL must not hold a password; use `password_env` or `identity`".to_owned(),
                );
            }
            Some(("", _)) => {
                return Err(format!(
                    "the URL has an empty user name before @: expected {SHAPE}"
                ));
            }
            Some((user, host_port)) => (Some(user.to_owned()), host_port),
            None => (None, authority),
        };
        let (host, port) = split_port(host_port)?;
        if host.is_empty() {
            return Err(format!("the URL has no host: expected {SHAPE}"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '@' | '[' | ']' | '/' | '?' | '#'))
        {
            return Err(format!(
                "the URL's host {host:?} is not a host name or address"
            ));
        }
        Ok(SftpUrl {
            user,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_port(host_port: &str) -> Result<(&str, u16), String> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("the URL's IPv6 address lacks its closing ]".to_owned());
        };
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (v6, Some(port)),
                None => return Err(format!("unexpected {after:?} after the URL's IPv6 address")),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None => 22,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            // Not echoed: with a `/` in a password, the password lands here.
            _ => return Err("the URL's port is not a number from 1 to 65535".to_owned()),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> SftpUrl {
        SftpUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn parts() {
        let u = ok("sftp://archiver@mesocentre.example.org:2222/data/confocal-1");
        assert_eq!(u.user.as_deref(), Some("archiver"));
        assert_eq!(u.host, "mesocentre.example.org");
        assert_eq!(u.port, 2222);
        assert_eq!(u.path, "/data/confocal-1");
        let u = ok("sftp://host/");
        assert_eq!((u.user, u.port, u.path.as_str()), (None, 22, "/"));
        let u = ok("sftp://me@[::1]:22/x");
        assert_eq!(u.host, "::1");
    }

    #[test]
    fn refusals() {
        let err = |url: &str| SftpUrl::parse(url).unwrap_err();
        assert!(err("https://host/x").contains("scheme must be sftp"));
        assert!(err("host:/x").contains("expected a URL"));
        assert!(err("sftp://host").contains("no remote folder"));
        assert!(err("sftp://:22/x").contains("no host"));
        assert!(err("sftp://@host/x").contains("empty user"));
        assert!(err("sftp://host:0/x").contains("port"));
        assert!(err("sftp://host:ssh/x").contains("port"));
        assert!(err("sftp://host:70000/x").contains("port"));
        let e = err("sftp://me:hunter2@host/x");
        assert!(e.contains("password") && !e.contains("hunter2"), "{e}");
    }
}
