//! The tracking connection that keeps the [`NearCache`] coherent (docs/caching.md, "Near
//! cache").
//!
//! Why our own layer rather than the redis crate's `cache-aio`: that cache is bounded by a
//! number of keys, not bytes, asks Redis for each key's TTL with extra commands, and is
//! documented as experimental; what happens to its contents when a connection is replaced is
//! not specified. Here one RESP3 connection does `CLIENT TRACKING ON` and carries every read
//! that may fill the near cache, so Redis tracks exactly the keys held locally. Invalidation
//! pushes arrive on that connection and are applied synchronously by its reader, before any
//! reply that follows them.
//!
//! Losing the connection (a `disconnection` push, a failed read, or a heartbeat `PING` that
//! does not come back within the Redis timeout) flushes the near cache and turns it off until
//! a new connection has tracking on again: invalidations sent while no connection listened
//! are lost, so nothing held before can be trusted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, PushInfo, PushKind, Value};
use tokio::sync::Notify;

use super::near::{NearCache, Reservation};

/// How often an idle tracking connection is checked with `PING`. Bounds how long the near
/// cache can go on serving after Redis stopped answering without closing the connection (a
/// frozen server), on top of the Redis timeout.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// Delay between two attempts to bring tracking back.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// The near cache and the connection Redis tracks it on.
pub(crate) struct Tracker {
    near: Arc<NearCache>,
    conn: Mutex<Option<MultiplexedConnection>>,
    /// Which connection is current; pushes from an older one are ignored.
    current: Arc<AtomicU64>,
    lost: Arc<Notify>,
    stopped: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("usable", &self.near.is_usable())
            .field("bytes", &self.near.bytes())
            .finish()
    }
}

impl Tracker {
    /// Starts the supervisor task that connects, enables tracking and watches the connection.
    /// `client` must speak RESP3. Needs a Tokio runtime.
    pub(crate) fn start(client: Client, near: Arc<NearCache>, timeout: Duration) -> Arc<Self> {
        let tracker = Arc::new(Self {
            near,
            conn: Mutex::new(None),
            current: Arc::new(AtomicU64::new(0)),
            lost: Arc::new(Notify::new()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(supervise(Arc::downgrade(&tracker), client, timeout));
        tracker
    }

    pub(crate) fn near(&self) -> &NearCache {
        &self.near
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tracking connection and a reservation of `keys`, when tracking is up.
    pub(crate) fn begin(&self, keys: &[String]) -> Option<(MultiplexedConnection, Reservation)> {
        let conn = self.slot().clone()?;
        let reservation = self.near.reserve(keys)?;
        Some((conn, reservation))
    }

    /// Tracking can no longer be trusted: flush, and let the supervisor reconnect.
    pub(crate) fn lost(&self) {
        self.drop_connection();
        self.lost.notify_one();
    }

    fn drop_connection(&self) {
        self.near.set_usable(false);
        self.slot().take();
        // Pushes still in flight from the dropped connection must not touch what comes next.
        self.current.fetch_add(1, Ordering::SeqCst);
    }

    /// Stops for good (the backend was closed).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.lost();
    }
}

/// Applies one push message of connection `id` to the near cache.
fn on_push(near: &NearCache, current: &AtomicU64, lost: &Notify, id: u64, info: PushInfo) {
    if current.load(Ordering::SeqCst) != id {
        return;
    }
    match info.kind {
        PushKind::Invalidate => match info.data.first() {
            Some(Value::Array(keys)) => near.invalidate(keys.iter().filter_map(|k| match k {
                Value::BulkString(b) => std::str::from_utf8(b).ok(),
                Value::SimpleString(s) => Some(s.as_str()),
                _ => None,
            })),
            // A null key list: Redis flushed its tracking table (FLUSHALL, FLUSHDB).
            _ => near.flush(),
        },
        PushKind::Disconnection => {
            near.set_usable(false);
            lost.notify_one();
        }
        _ => {}
    }
}

async fn connect(
    client: &Client,
    tracker: &Tracker,
    timeout: Duration,
) -> redis::RedisResult<MultiplexedConnection> {
    let id = tracker.current.fetch_add(1, Ordering::SeqCst) + 1;
    let (near, current, lost) = (
        Arc::clone(&tracker.near),
        Arc::clone(&tracker.current),
        Arc::clone(&tracker.lost),
    );
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(move |info: PushInfo| {
            on_push(&near, &current, &lost, id, info);
            Ok::<(), redis::aio::SendError>(())
        });
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .query_async::<()>(&mut conn)
        .await?;
    Ok(conn)
}

async fn supervise(tracker: Weak<Tracker>, client: Client, timeout: Duration) {
    loop {
        let Some(t) = tracker.upgrade() else { return };
        if t.stopped.load(Ordering::SeqCst) {
            return;
        }
        if t.slot().is_none() {
            match tokio::time::timeout(timeout * 2, connect(&client, &t, timeout)).await {
                Ok(Ok(conn)) => {
                    *t.slot() = Some(conn);
                    t.near.set_usable(true);
                    tracing::debug!(target: "hub::cache", "near cache: tracking on");
                }
                Ok(Err(e)) => {
                    tracing::debug!(target: "hub::cache", error = %e, "near cache: tracking unavailable");
                }
                Err(_) => {
                    tracing::debug!(target: "hub::cache", "near cache: tracking connect timed out");
                }
            }
        }
        let lost = Arc::clone(&t.lost);
        let up = t.slot().is_some();
        drop(t);
        let wait = if up { HEARTBEAT } else { RECONNECT_DELAY };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = lost.notified() => {
                // A disconnection push leaves the dead connection in place: drop it here.
                if let Some(t) = tracker.upgrade() {
                    t.drop_connection();
                }
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        }
        let Some(t) = tracker.upgrade() else { return };
        let conn = t.slot().clone();
        if let Some(mut conn) = conn {
            let ping = redis::cmd("PING");
            let pong = ping.query_async::<String>(&mut conn);
            if !matches!(tokio::time::timeout(timeout, pong).await, Ok(Ok(_))) {
                tracing::debug!(target: "hub::cache", "near cache: heartbeat failed; flushed");
                t.lost();
            }
        }
    }
}
