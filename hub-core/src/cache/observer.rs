//! Hooks through which the cache runtime reports what it did, for metrics.
//!
//! The runtime calls every installed [`CacheObserver`] once per event; with none installed
//! events are dropped. `hub-api` installs one that counts them in Prometheus metrics.

use std::sync::Arc;

/// How a cached operation's request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// Served from the cache.
    Hit,
    /// Served from the cache past its TTL, inside the grace period, while one background
    /// refresh recomputes it (stale-while-revalidate).
    Stale,
    /// Looked up, not found (or undecodable): the handler ran.
    Miss,
    /// The cache was not consulted (disabled, unreachable, circuit open, or not a GET): the
    /// handler ran.
    Bypass,
}

impl Lookup {
    /// `hit`, `stale`, `miss` or `bypass`, as metric labels spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Stale => "stale",
            Lookup::Miss => "miss",
            Lookup::Bypass => "bypass",
        }
    }
}

/// Receives the cache runtime's events. Every method has an empty default, and each must be
/// cheap and must not block: it runs on the request path.
///
/// ```
/// use hub_core::cache::observer::{CacheObserver, Lookup};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// #[derive(Default)]
/// struct Hits(AtomicU64);
/// impl CacheObserver for Hits {
///     fn lookup(&self, _name: &'static str, outcome: Lookup) {
///         if outcome == Lookup::Hit {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///     }
/// }
/// ```
pub trait CacheObserver: Send + Sync + 'static {
    /// A request of the cached operation `name` was answered as `outcome`.
    fn lookup(&self, _name: &'static str, _outcome: Lookup) {}
    /// A response of `name` was stored.
    fn stored(&self, _name: &'static str) {}
    /// A backend call for `name` failed (timeout, connection error, open circuit).
    fn error(&self, _name: &'static str) {}
    /// A request of `name` waited for a concurrent identical request instead of running the
    /// handler itself (coalescing).
    fn coalesced(&self, _name: &'static str) {}
    /// A write bumped the invalidation generation of `name` (after its handler answered 2xx).
    fn invalidated(&self, _name: &'static str) {}
}

/// Several observers, each told every event in order; empty, it ignores everything.
///
/// Shared, not copied, by clones: the app clones its cache handle into every request's data.
#[derive(Clone)]
pub struct Observers(Arc<[Arc<dyn CacheObserver>]>);

impl Default for Observers {
    fn default() -> Self {
        Observers(Arc::from([]))
    }
}

impl Observers {
    /// These observers plus `observer`.
    pub fn with(self, observer: Arc<dyn CacheObserver>) -> Self {
        Observers(self.0.iter().cloned().chain([observer]).collect())
    }
}

impl CacheObserver for Observers {
    fn lookup(&self, name: &'static str, outcome: Lookup) {
        self.0.iter().for_each(|o| o.lookup(name, outcome));
    }
    fn stored(&self, name: &'static str) {
        self.0.iter().for_each(|o| o.stored(name));
    }
    fn error(&self, name: &'static str) {
        self.0.iter().for_each(|o| o.error(name));
    }
    fn coalesced(&self, name: &'static str) {
        self.0.iter().for_each(|o| o.coalesced(name));
    }
    fn invalidated(&self, name: &'static str) {
        self.0.iter().for_each(|o| o.invalidated(name));
    }
}
