//! One SSH connection with its SFTP session: connect, check the host key, log in.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, AuthResult, Handle};
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate, load_secret_key};
use russh::{ChannelMsg, Disconnect, Preferred, cipher};
use russh_sftp::client::SftpSession;
use tracing::debug;

use crate::config::Site;
use crate::known_hosts::{KnownKeys, Verdict};
use scopeflow_transfer::TransferError;

/// Connecting and logging in must finish within this, or the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// One SFTP request (an fsync of a big file included) must be answered within this.
const REQUEST_TIMEOUT_SECS: u64 = 120;

pub(crate) struct Conn {
    handle: Handle<HostCheck>,
    pub(crate) sftp: SftpSession,
}

/// Checks the server's key against known_hosts and keeps the verdict, so a refusal can be
/// explained (russh only reports "unknown key").
struct HostCheck {
    known: KnownKeys,
    verdict: Arc<Mutex<Option<Verdict>>>,
}

impl client::Handler for HostCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.known.check(key),
            // Not offered (no certificate algorithms are advertised); refused if shown anyway.
            PublicKeyOrCertificate::Certificate(_) => Verdict::Unknown,
        };
        let ok = verdict == Verdict::Known;
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
        Ok(ok)
    }
}

impl Conn {
    pub(crate) fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Runs `command` through the server's shell; returns its exit status, stdout and stderr.
    pub(crate) async fn exec(
        &self,
        command: &str,
    ) -> Result<(u32, Vec<u8>, Vec<u8>), russh::Error> {
        let mut channel = self.handle.channel_open_session().await?;
        channel.exec(true, command).await?;
        let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => err.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                _ => {}
            }
        }
        Ok((status.unwrap_or(255), out, err))
    }

    /// Replaces `to` with `from` in one step (`posix-rename@openssh.com`: rename(2) on the
    /// server), which plain SFTP rename never does. The extension is only reachable through a
    /// raw session, so this opens one on its own channel for the call. `Err((permanent, why))`:
    /// permanent when the server lacks the extension or refuses the rename.
    pub(crate) async fn posix_rename(&self, from: &str, to: &str) -> Result<(), (bool, String)> {
        use russh_sftp::client::RawSftpSession;
        use russh_sftp::protocol::{Packet, StatusCode};
        const EXTENSION: &str = "posix-rename@openssh.com";
        let lost = |e: &dyn std::fmt::Display| (false, e.to_string());
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| lost(&e))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| lost(&format!("cannot start the sftp subsystem: {e}")))?;
        let raw = RawSftpSession::new(channel.into_stream());
        raw.set_timeout(REQUEST_TIMEOUT_SECS);
        let version = raw.init().await.map_err(|e| lost(&e))?;
        if !version.extensions.contains_key(EXTENSION) {
            return Err((true, format!("the server does not offer {EXTENSION}")));
        }
        let mut data = Vec::with_capacity(8 + from.len() + to.len());
        for path in [from, to] {
            let len = u32::try_from(path.len()).map_err(|_| (true, "path too long".to_owned()))?;
            data.extend_from_slice(&len.to_be_bytes());
            data.extend_from_slice(path.as_bytes());
        }
        let reply = raw.extended(EXTENSION, data).await.map_err(|e| lost(&e));
        let _ = raw.close_session();
        match reply? {
            Packet::Status(s) if s.status_code == StatusCode::Ok => Ok(()),
            Packet::Status(s) => Err((true, format!("{:?}: {}", s.status_code, s.error_message))),
            other => Err((false, format!("unexpected answer {other:?}"))),
        }
    }

    pub(crate) async fn close(self) {
        let _ = self.sftp.close().await;
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
    }
}

pub(crate) async fn connect(ctx: &Site) -> Result<Conn, TransferError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(ctx)).await {
        Ok(result) => result,
        Err(_) => Err(ctx.unreachable(
            ctx.server(),
            format!("no SSH session within {} s", CONNECT_TIMEOUT.as_secs()),
        )),
    }
}

async fn connect_inner(ctx: &Site) -> Result<Conn, TransferError> {
    let cfg = &ctx.cfg;
    let kh = cfg.known_hosts.display().to_string();
    let known = KnownKeys::load(&cfg.known_hosts, &cfg.host, cfg.port).map_err(|e| {
        ctx.invalid(
            &kh,
            format!("cannot read the known_hosts file for {}: {e}", ctx.server()),
        )
    })?;
    let key = match &cfg.identity {
        Some(path) => Some(load_secret_key(path, cfg.password.as_deref()).map_err(|e| {
            ctx.invalid(
                path.display().to_string(),
                format!("cannot load the private key (identity): {e}"),
            )
        })?),
        None => None,
    };
    let config = client_config(&known);
    let verdict = Arc::new(Mutex::new(None));
    let check = HostCheck {
        known,
        verdict: Arc::clone(&verdict),
    };
    let addr = (cfg.host.as_str(), cfg.port);
    let mut handle = match client::connect(Arc::new(config), addr, check).await {
        Ok(h) => h,
        Err(e) => {
            let seen = verdict.lock().unwrap_or_else(|p| p.into_inner()).clone();
            return Err(match seen {
                Some(v) if v != Verdict::Known => host_key_refused(ctx, &kh, &v),
                _ => ctx.unreachable(ctx.server(), format!("cannot connect: {e}")),
            });
        }
    };
    log_in(ctx, &mut handle, key).await?;
    let sftp = open_sftp(ctx, &handle).await?;
    debug!(destination = %ctx.name(), server = %ctx.server(), "connected");
    Ok(Conn { handle, sftp })
}

fn client_config(known: &KnownKeys) -> client::Config {
    let mut preferred = Preferred::default();
    // Host key types listed in known_hosts first, so the server shows a key we can check.
    let mut host_algs = known.algorithms();
    for alg in preferred.key.iter() {
        if !host_algs.contains(alg) {
            host_algs.push(alg.clone());
        }
    }
    preferred.key = Cow::Owned(host_algs);
    // AES-GCM first: hardware AES makes it the fastest on the machines that send big images.
    preferred.cipher = Cow::Borrowed(&[
        cipher::AES_256_GCM,
        cipher::CHACHA20_POLY1305,
        cipher::AES_256_CTR,
        cipher::AES_128_CTR,
    ]);
    client::Config {
        preferred,
        window_size: 16 << 20,
        maximum_packet_size: 65535,
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    }
}

fn lost(ctx: &Site) -> impl Fn(russh::Error) -> TransferError + '_ {
    move |e| {
        ctx.unreachable(
            ctx.server(),
            format!("connection lost while logging in: {e}"),
        )
    }
}

/// The key first, then the password (which may also have unlocked the key).
async fn log_in(
    ctx: &Site,
    handle: &mut Handle<HostCheck>,
    key: Option<russh::keys::PrivateKey>,
) -> Result<(), TransferError> {
    let cfg = &ctx.cfg;
    let mut result = None;
    if let Some(key) = key {
        let hash = if key.algorithm().is_rsa() {
            handle
                .best_supported_rsa_hash()
                .await
                .map_err(lost(ctx))?
                .flatten()
        } else {
            None
        };
        let with_key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
        result = Some(
            handle
                .authenticate_publickey(&cfg.user, with_key)
                .await
                .map_err(lost(ctx))?,
        );
    }
    if !result.as_ref().is_some_and(AuthResult::success)
        && let Some(password) = &cfg.password
    {
        result = Some(
            handle
                .authenticate_password(&cfg.user, password)
                .await
                .map_err(lost(ctx))?,
        );
    }
    match result {
        Some(AuthResult::Success) => Ok(()),
        Some(AuthResult::Failure {
            remaining_methods, ..
        }) => {
            let tried = match (&cfg.identity, &cfg.password) {
                (Some(k), Some(_)) => format!("the key {} and the password", k.display()),
                (Some(k), None) => format!("the key {}", k.display()),
                (None, _) => "the password".to_owned(),
            };
            let methods: Vec<String> = remaining_methods
                .iter()
                .map(|m| <&str>::from(m).to_owned())
                .collect();
            Err(ctx.invalid(
                ctx.server(),
                format!(
                    "authentication refused for user {:?} with {tried} (the server accepts: {})",
                    cfg.user,
                    methods.join(", ")
                ),
            ))
        }
        None => Err(ctx.invalid(
            ctx.server(),
            "no way to log in: give `identity` (a private key file) or `password_env`",
        )),
    }
}

async fn open_sftp(ctx: &Site, handle: &Handle<HostCheck>) -> Result<SftpSession, TransferError> {
    let channel = handle.channel_open_session().await.map_err(lost(ctx))?;
    channel.request_subsystem(true, "sftp").await.map_err(|e| {
        ctx.unreachable(
            ctx.server(),
            format!("cannot start the sftp subsystem: {e}"),
        )
    })?;
    let sftp_cfg = russh_sftp::client::Config {
        max_concurrent_reads: 32,
        max_concurrent_writes: 32,
        max_write_packet_len: 256 * 1024,
        request_timeout_secs: REQUEST_TIMEOUT_SECS,
        ..Default::default()
    };
    SftpSession::new_with_config(channel.into_stream(), sftp_cfg)
        .await
        .map_err(|e| {
            ctx.unreachable(
                ctx.server(),
                format!("the sftp subsystem did not start: {e}"),
            )
        })
}

fn host_key_refused(ctx: &Site, kh: &str, verdict: &Verdict) -> TransferError {
    let host = format!("[{}]:{}", ctx.cfg.host, ctx.cfg.port);
    let reason = match verdict {
        Verdict::Changed { lines } => format!(
            "the host key of {host} DIFFERS from the one in {kh} (line {}): refusing to connect; \
             if the server's key really changed, replace that line (ssh-keyscan -p {} {})",
            lines
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            ctx.cfg.port,
            ctx.cfg.host
        ),
        Verdict::Revoked { line } => {
            format!(
                "the host key of {host} is marked @revoked in {kh} (line {line}): refusing to connect"
            )
        }
        _ => format!(
            "the host {host} is not in {kh} (no key of the type it shows): refusing an unknown \
             host; add its key after checking it (ssh-keyscan -p {} {})",
            ctx.cfg.port, ctx.cfg.host
        ),
    };
    ctx.invalid(kh, reason)
}
