//! `scopeflow server` and `scopeflow server token create`: argument mapping and exit codes only;
//! the server itself is `scopeflow-server`.

use std::io::Write;

use scopeflow_server::{ServeOptions, ServerError};

use super::runtime;
use crate::Failure;
use crate::flags::{ServerCommand, TokenCommand};

pub(crate) fn run(
    command: Option<ServerCommand>,
    db: Option<String>,
    listen: Option<String>,
) -> Result<(), Failure> {
    match command {
        None => {
            let opts = ServeOptions {
                db,
                listen: listen.unwrap_or_else(|| ServeOptions::default().listen),
                ..ServeOptions::default()
            };
            runtime()?
                .block_on(scopeflow_server::serve(opts))
                .map_err(failure)
        }
        Some(ServerCommand::Token {
            command:
                TokenCommand::Create {
                    agent,
                    viewer,
                    db: token_db,
                },
        }) => {
            // `--db` may be given before or after `token create`.
            let db = token_db.or(db);
            let token = runtime()?
                .block_on(scopeflow_server::create_token(
                    db.as_deref(),
                    agent.as_deref(),
                    viewer,
                ))
                .map_err(failure)?;
            let who = if viewer {
                "a read-only viewer token".to_string()
            } else {
                format!("a token for agent {}", agent.as_deref().unwrap_or_default())
            };
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "Created {who} (stored hashed in {}; it cannot be shown again):",
                db.as_deref().unwrap_or(scopeflow_server::DEFAULT_DB_FILE)
            )
            .and_then(|()| writeln!(out, "{token}"))
            .map_err(Failure::work)
        }
    }
}

/// A bad `--db` URL or listen address is bad usage (2); an unreachable database is a failure (1).
fn failure(e: ServerError) -> Failure {
    if e.is_usage() {
        Failure::usage(e)
    } else {
        Failure::work(e)
    }
}
