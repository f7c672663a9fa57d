//! The central server an agent reports to. Optional: an agent works the same without one.

use std::path::PathBuf;

use crate::fields::Fields;
use crate::node::{Node, Value};
use crate::reader::{Expect, Reader};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// `http://` or `https://` base URL.
    pub url: String,
    /// File holding the agent's bearer token (`scopeflow server token create`).
    pub token_file: PathBuf,
}

const KEYS: &[&str] = &["url", "token_file"];

/// `server:` with nothing under it means no server, like leaving the key out.
pub(crate) fn read_server(node: &Node, r: &mut Reader) -> Option<Server> {
    if matches!(node.value, Value::Null) {
        return None;
    }
    let f = Fields::read(node, "server", r)?;
    f.allow(KEYS, r);
    let url = f.required_string("url", r).filter(|url| {
        let ok = url.starts_with("http://") || url.starts_with("https://");
        if !ok && let Some((_, pos)) = f.get("url") {
            r.error(
                pos,
                format!(
                    "server.url: expected a URL starting with http:// or https://, found {url:?}"
                ),
            );
        }
        ok
    });
    let token_file = f.required_path("token_file", r).map(|(path, pos)| {
        r.expect_on_disk(&path, "server.token_file", pos, Expect::File);
        path
    });
    Some(Server {
        url: url?,
        token_file: token_file?,
    })
}
