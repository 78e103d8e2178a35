//! Hooks through which the cache runtime reports what it did, for metrics.
//!
//! The runtime calls a [`CacheObserver`] once per event; the default observer ignores them.
//! `hub-api` installs one that counts them in Prometheus metrics.

/// How a cached operation's request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// Served from the cache.
    Hit,
    /// Looked up, not found (or undecodable): the handler ran.
    Miss,
    /// The cache was not consulted (disabled, unreachable, circuit open, or not a GET): the
    /// handler ran.
    Bypass,
}

impl Lookup {
    /// `hit`, `miss` or `bypass`, as metric labels spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
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
}

/// The observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl CacheObserver for NoObserver {}
