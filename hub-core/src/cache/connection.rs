//! The connection [`super::RedisCache`] sends its commands on: one Redis server through a
//! reconnecting `ConnectionManager`, or a Redis Cluster through the crate's cluster client.
//!
//! Both are created without touching the network and both bound every attempt by the Redis
//! timeout with no retries inside the crate (the breaker decides when to try again), so a dead
//! server or cluster node costs a request at most one timeout.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, Pipeline, RedisFuture, Value};

use super::backend::CacheError;

/// Where the commands go, and the live connection once there is one. The clients are boxed:
/// they are large, and only ever touched to (re)connect.
pub(crate) enum Link {
    Single {
        client: Box<Client>,
        manager: ConnectionManager,
    },
    Cluster {
        client: Box<ClusterClient>,
        /// Connected on first use: the cluster client learns the slot map when it connects.
        conn: Option<ClusterConnection>,
    },
}

/// A cheap clone of the live connection for one command.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

fn backend_error(e: redis::RedisError) -> CacheError {
    CacheError::Backend(e.to_string())
}

/// A manager that connects lazily and makes a single attempt per (re)connect.
pub(crate) fn lazy_manager(
    client: &Client,
    timeout: Duration,
) -> Result<ConnectionManager, CacheError> {
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_min_delay(Duration::from_millis(1))
        .set_max_delay(Duration::from_millis(1))
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(backend_error)
}

impl Link {
    /// The live connection; `fresh` replaces it first (the breaker's half-open probe, so
    /// recovery never depends on a reconnect that failed long before the server came back).
    /// `None` in `slot` means the backend was closed.
    pub(crate) async fn connection(
        slot: &Mutex<Option<Link>>,
        fresh: bool,
        timeout: Duration,
    ) -> Result<Conn, CacheError> {
        let cluster_client = {
            let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
            match guard.as_mut() {
                None => return Err(CacheError::Backend("cache closed".into())),
                Some(Link::Single { client, manager }) => {
                    if fresh {
                        *manager = lazy_manager(client, timeout)?;
                    }
                    return Ok(Conn::Single(manager.clone()));
                }
                Some(Link::Cluster { conn: Some(c), .. }) if !fresh => {
                    return Ok(Conn::Cluster(c.clone()));
                }
                Some(Link::Cluster { client, .. }) => client.clone(),
            }
        };
        // Connecting to a cluster is async; the lock is not held across it. Two requests may
        // both connect at first use; the later one's connection replaces the earlier one's.
        let conn = match tokio::time::timeout(timeout, cluster_client.get_async_connection()).await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(backend_error(e)),
            Err(_) => return Err(CacheError::Timeout(timeout)),
        };
        let mut guard = slot.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(Link::Cluster { conn: current, .. }) => {
                *current = Some(conn.clone());
                Ok(Conn::Cluster(conn))
            }
            _ => Err(CacheError::Backend("cache closed".into())),
        }
    }
}
