//! Up to `parallel` SSH connections, opened when first needed and opened again when one drops.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::warn;

use crate::config::Site;
use crate::session::{Conn, connect};
use scopeflow_transfer::TransferError;

/// A dropped connection is retried this many times, after 1, 2 and 4 s, before the call gives
/// up with `Unreachable` (the agent then retries later with its own back-off).
const RETRIES: u32 = 3;

pub(crate) struct Pool {
    pub(crate) ctx: Arc<Site>,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

/// A connection lent to one task; given back when dropped unless it was found broken.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
    _permit: SemaphorePermit<'a>,
}

impl Lease<'_> {
    pub(crate) fn conn(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }

    fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            tokio::spawn(conn.close());
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !conn.is_closed()
        {
            self.pool.lock_idle().push(conn);
        }
    }
}

impl Pool {
    pub(crate) fn new(ctx: Arc<Site>) -> Pool {
        let permits = Semaphore::new(ctx.cfg.parallel);
        Pool {
            ctx,
            idle: Mutex::new(Vec::new()),
            permits,
        }
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a free slot (at most `parallel` connections are in use at once).
    pub(crate) async fn lease(&self) -> Result<Lease<'_>, TransferError> {
        let permit = self.permits.acquire().await.map_err(|_| {
            self.ctx
                .unreachable(self.ctx.server(), "the destination is shutting down")
        })?;
        let reused = loop {
            let Some(conn) = self.lock_idle().pop() else {
                break None;
            };
            if !conn.is_closed() {
                break Some(conn);
            }
        };
        let conn = match reused {
            Some(c) => c,
            None => connect(&self.ctx).await?,
        };
        Ok(Lease {
            pool: self,
            conn: Some(conn),
            _permit: permit,
        })
    }

    /// After a failed attempt: `true` (after a pause) if it is worth another one on a new
    /// connection, which is the case for `Unreachable` a few times.
    pub(crate) async fn retry_pause(&self, e: &TransferError, attempt: &mut u32) -> bool {
        if !matches!(e, TransferError::Unreachable { .. }) || *attempt >= RETRIES {
            return false;
        }
        let pause = Duration::from_secs(1 << *attempt);
        *attempt += 1;
        warn!(destination = %self.ctx.name(), error = %e, retry_in = ?pause, "connection lost; reconnecting");
        tokio::time::sleep(pause).await;
        true
    }
}

impl Lease<'_> {
    /// Drops a connection that failed as `Unreachable` instead of giving it back.
    pub(crate) fn discard_if_unreachable<T>(&mut self, r: &Result<T, TransferError>) {
        if matches!(r, Err(TransferError::Unreachable { .. })) {
            self.discard();
        }
    }
}

/// `with_conn!(pool, |c| expr)`: evaluates `expr` (which may `.await`) with a connection `c`;
/// when it fails as `Unreachable` (the connection dropped, or none could be made), the
/// connection is thrown away and `expr` runs again on a new one, so it must be safe to repeat.
///
/// A macro rather than a method taking an async closure: the futures must be `Send` for the
/// `Destination` trait, which the compiler cannot yet prove through higher-ranked closures.
macro_rules! with_conn {
    ($pool:expr, |$c:ident| $body:expr) => {{
        let pool: &$crate::pool::Pool = $pool;
        let mut attempt = 0u32;
        loop {
            let result = match pool.lease().await {
                Ok(mut lease) => {
                    let $c: &$crate::session::Conn = lease.conn();
                    // An async block, so that `?` and `return` in `$body` end this attempt only.
                    let r: Result<_, scopeflow_transfer::TransferError> = async { $body }.await;
                    lease.discard_if_unreachable(&r);
                    r
                }
                Err(e) => Err(e),
            };
            if let Err(e) = &result
                && pool.retry_pause(e, &mut attempt).await
            {
                continue;
            }
            break result;
        }
    }};
}

/// `map_parallel!(pool, items, |c, item| expr)`: [`with_conn!`] for every item of the slice,
/// `parallel` at a time, each on its own connection; the results in item order. After a
/// failure no new item starts, but those under way finish, so the caller can clean up knowing
/// nothing is still writing. `expr` is moved into an `async move` block: give it references.
macro_rules! map_parallel {
    ($pool:expr, $items:expr, |$c:ident, $item:pat_param| $body:expr) => {{
        let pool: &$crate::pool::Pool = $pool;
        let items = $items;
        let mut running = futures::stream::FuturesUnordered::new();
        let mut out: Vec<Option<_>> = Vec::with_capacity(items.len());
        out.resize_with(items.len(), || None);
        let mut first_err = None;
        let mut next = 0usize;
        loop {
            while running.len() < pool.ctx.cfg.parallel && next < items.len() && first_err.is_none()
            {
                let i = next;
                next += 1;
                let $item = &items[i];
                running.push(async move { (i, $crate::pool::with_conn!(pool, |$c| $body)) });
            }
            match futures::StreamExt::next(&mut running).await {
                Some((i, Ok(v))) => out[i] = Some(v),
                Some((_, Err(e))) => {
                    first_err.get_or_insert(e);
                }
                None => break,
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out.into_iter().flatten().collect::<Vec<_>>()),
        }
    }};
}

pub(crate) use {map_parallel, with_conn};
