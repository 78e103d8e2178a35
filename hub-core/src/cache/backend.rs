//! The cache backend abstraction and the disabled backend (docs/contract/cache-design.md section 5).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::breaker::BreakerState;

/// Boxed `Send` future, so [`CacheBackend`] stays object safe (`Arc<dyn CacheBackend>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What [`CacheBackend::get_with_generations`] returns: the entry (`None` on a miss) and the
/// current generation of each requested name, in the requested order.
pub type EntryWithGenerations = (Option<Vec<u8>>, Vec<u64>);

/// What [`CacheBackend::lookup`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The entry, `None` on a miss. `Bytes`, so a near-cache hit hands out its copy without
    /// copying it.
    pub entry: Option<bytes::Bytes>,
    /// The current generation of each requested name, in the requested order.
    pub generations: Vec<u64>,
    /// How long the entry has left in the store, when the backend knows (Redis' `PTTL`): the
    /// one clock all instances share, so freshness never depends on a host's clock.
    pub expires_in: Option<Duration>,
}

/// Why a cache call did not complete. Every variant means "treat as bypass": the runtime never
/// turns a cache error into a failed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// The backend is disabled ([`NullCache`]).
    #[error("cache disabled")]
    Disabled,
    /// The circuit breaker is open: the call was skipped without any I/O.
    #[error("cache unavailable (circuit open)")]
    CircuitOpen,
    /// The call did not finish within the configured timeout.
    #[error("cache call timed out after {0:?}")]
    Timeout(Duration),
    /// The backend reported an error (connection refused, protocol error, ...).
    #[error("cache backend error: {0}")]
    Backend(String),
}

/// A key/value store for cached responses.
///
/// Keys are passed WITHOUT the instance prefix; the backend applies it. Implementations must
/// bound every call in time: a slow or dead store must surface as an error quickly, never as a
/// stalled request.
///
/// ```
/// use std::sync::Arc;
/// use hub_core::cache::{CacheBackend, NullCache};
/// let backend: Arc<dyn CacheBackend> = Arc::new(NullCache);
/// assert_eq!(backend.kind(), "null");
/// ```
pub trait CacheBackend: Send + Sync + 'static {
    /// Short backend name for health output and logs: `"redis"` or `"null"`.
    fn kind(&self) -> &'static str;

    /// False when the backend can never store anything (the disabled [`NullCache`]), so callers
    /// can skip work such as buffering bodies.
    fn is_enabled(&self) -> bool {
        true
    }

    /// Circuit breaker state, when the backend has one (for metrics).
    fn breaker_state(&self) -> Option<BreakerState> {
        None
    }

    /// The near cache's counters, when the backend has one that is on (for metrics).
    fn near_counts(&self) -> Option<super::near::NearCounts> {
        None
    }

    /// Reads a value; `Ok(None)` is a miss.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>>;

    /// Stores `value` under `key` for `ttl` (rounded up to whole milliseconds, at least 1 ms).
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Reads `key` together with the current invalidation generations of `names` (a name
    /// never invalidated is generation 0), in ONE round trip so that the entry and the
    /// generations it is compared with are seen at the same moment (docs/contract/cache-design.md
    /// section 7), plus the entry's remaining time in the store when `with_expiry`
    /// (stale-while-revalidate needs it). The one read the runtime makes.
    ///
    /// The default reads `key` alone, reports every generation as 0 and no remaining time: a
    /// backend without generations never detects an invalidation this way and must drop
    /// entries in [`CacheBackend::invalidate`] instead.
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'static str],
        with_expiry: bool,
    ) -> BoxFuture<'a, Result<Found, CacheError>> {
        let _ = with_expiry;
        Box::pin(async move {
            Ok(Found {
                entry: self.get(key).await?.map(bytes::Bytes::from),
                generations: vec![0; names.len()],
                expires_in: None,
            })
        })
    }

    /// [`CacheBackend::lookup`] without the remaining time, as `(entry, generations)`: a
    /// shorthand for tests and tools; backends implement `lookup`.
    fn get_with_generations<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'static str],
    ) -> BoxFuture<'a, Result<EntryWithGenerations, CacheError>> {
        Box::pin(async move {
            let found = self.lookup(key, names, false).await?;
            Ok((found.entry.map(Vec::from), found.generations))
        })
    }

    /// Bumps the invalidation generation of cache `name` (`INCR {prefix}:gen:{name}`) and
    /// returns the new generation.
    fn invalidate<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>>;

    /// Bumps the generations of all `names` in one round trip. The cost depends only on
    /// `names.len()`, never on how many entries are cached under them.
    ///
    /// The default calls [`CacheBackend::invalidate`] once per name, stopping at the first
    /// error.
    fn invalidate_many<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            for name in names {
                self.invalidate(name).await?;
            }
            Ok(())
        })
    }

    /// True when the store answers right now (used by `/health/ready`).
    fn ping(&self) -> BoxFuture<'_, bool>;

    /// Releases connections; later calls behave as if the store were unreachable.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// The disabled backend: always misses, stores nothing, `ping` is false.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullCache;

impl CacheBackend for NullCache {
    fn kind(&self) -> &'static str {
        "null"
    }

    fn is_enabled(&self) -> bool {
        false
    }

    fn get<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async { Ok(None) })
    }

    fn set<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async { Ok(()) })
    }

    fn invalidate<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(async { Err(CacheError::Disabled) })
    }

    fn ping(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn null_cache_never_stores() {
        let c: Arc<dyn CacheBackend> = Arc::new(NullCache);
        assert_eq!(c.kind(), "null");
        assert!(!c.is_enabled());
        assert_eq!(c.get("k").await, Ok(None));
        c.set("k", b"v", Duration::from_secs(30)).await.unwrap();
        assert_eq!(c.get("k").await, Ok(None));
        assert_eq!(c.invalidate("nodes").await, Err(CacheError::Disabled));
        assert_eq!(
            c.invalidate_many(&["nodes", "dashboard"]).await,
            Err(CacheError::Disabled)
        );
        assert_eq!(
            c.get_with_generations("k", &["a", "b"]).await,
            Ok((None, vec![0, 0]))
        );
        assert!(!c.ping().await);
        c.close().await;
        assert_eq!(c.get("k").await, Ok(None));
        assert_eq!(c.breaker_state(), None);
    }
}
