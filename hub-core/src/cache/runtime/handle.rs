//! [`ResponseCache`]: the cache handle an app holds, its settings and its backend.

use std::sync::{Arc, Weak};
use std::time::Duration;

use poem::Response;
use poem::endpoint::DynEndpoint;

use super::Ttl;
use crate::cache::backend::{CacheBackend, NullCache};
use crate::cache::coalesce::Flights;
use crate::cache::envelope::unix_now;
use crate::cache::observer::{CacheObserver, Observers};
use crate::cache::redis::{RedisCache, RedisOptions};
use crate::cache::refresh::Refresher;
use crate::cache::settings::CacheSettings;
use crate::tables::TableVersions;

/// Shared cache state. Add it to the app with `EndpointExt::data(response_cache)`; handlers
/// look it up per request, and its absence means "disabled" (MISS, nothing stored).
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use hub_core::cache::{NullCache, runtime::ResponseCache};
/// use poem::{EndpointExt, Route};
/// let cache = ResponseCache::new(Arc::new(NullCache), Duration::from_secs(30), Duration::from_secs(30));
/// let _app = Route::new().data(cache);
/// ```
///
/// A clone shares everything (one reference count): the app puts the cache into every
/// request's data.
#[derive(Clone)]
pub struct ResponseCache(pub(super) Arc<CacheParts>);

/// What a [`ResponseCache`] holds.
#[derive(Clone)]
pub(super) struct CacheParts {
    pub(super) backend: Arc<dyn CacheBackend>,
    pub(super) ttl_default: Duration,
    pub(super) ttl_dashboard: Duration,
    pub(super) ttl_feeds: Duration,
    pub(super) observer: Observers,
    /// In-process change counters of the tables, bumped with their generations.
    pub(super) versions: TableVersions,
    /// Misses in flight, for coalescing; `None` when coalescing is off.
    pub(super) flights: Option<Arc<Flights>>,
    /// Longest a coalesced waiter waits for its leader before running the handler itself.
    pub(super) coalesce_wait: Duration,
    /// How long past its TTL an entry is still served while it is refreshed
    /// (`REDIS_CACHE_GRACE`); zero turns stale-while-revalidate off.
    pub(super) grace: Duration,
    pub(super) refresher: Arc<Refresher>,
}

/// Default of [`ResponseCache::with_ttl_feeds`] (`REDIS_CACHE_TTL_FEEDS`).
pub const DEFAULT_TTL_FEEDS: Duration = Duration::from_secs(300);

/// Default of [`ResponseCache::with_coalesce_wait`] (`CACHE_COALESCE_WAIT_MS`).
pub const DEFAULT_COALESCE_WAIT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("backend", &self.0.backend.kind())
            .field("ttl_default", &self.0.ttl_default)
            .field("ttl_dashboard", &self.0.ttl_dashboard)
            .field("ttl_feeds", &self.0.ttl_feeds)
            .field("coalescing", &self.coalescing())
            .field("coalesce_wait", &self.0.coalesce_wait)
            .field("grace", &self.0.grace)
            .field("refresher", &self.0.refresher)
            .finish()
    }
}

impl ResponseCache {
    /// Builds the cache from settings: [`RedisCache`] when enabled, else [`NullCache`].
    ///
    /// Never fails and never waits for Redis: the connection is made in the background, and
    /// an unreachable server only means bypassed calls until it comes back.
    pub async fn from_settings(s: &CacheSettings) -> Self {
        let backend: Arc<dyn CacheBackend> = if s.enabled() {
            match RedisCache::new(RedisOptions::from_settings(s)) {
                Ok(redis) => {
                    let redis = Arc::new(redis);
                    redis.warm_up();
                    redis
                }
                Err(e) => {
                    tracing::warn!(target: "hub::cache", error = %e,
                        "cannot configure redis; response caching disabled");
                    Arc::new(NullCache)
                }
            }
        } else {
            Arc::new(NullCache)
        };
        Self::new(backend, s.ttl_default(), s.ttl_dashboard())
            .with_ttl_feeds(s.ttl_feeds())
            .with_coalesce_wait(s.coalesce_wait())
            .with_grace(s.grace())
    }

    /// Wraps an existing backend.
    pub fn new(
        backend: Arc<dyn CacheBackend>,
        ttl_default: Duration,
        ttl_dashboard: Duration,
    ) -> Self {
        Self(Arc::new(CacheParts {
            backend,
            ttl_default,
            ttl_dashboard,
            ttl_feeds: DEFAULT_TTL_FEEDS,
            observer: Observers::default(),
            versions: TableVersions::default(),
            flights: Some(Arc::default()),
            coalesce_wait: DEFAULT_COALESCE_WAIT,
            grace: Duration::ZERO,
            refresher: Arc::default(),
        }))
    }

    /// The in-process change counters of the tables, shared by every clone of this cache:
    /// kept values (past-day counts, ...) compare them with those they were read under.
    pub fn versions(&self) -> &TableVersions {
        &self.0.versions
    }

    /// The same cache serving entries up to `grace` past their TTL while one background
    /// refresh per key recomputes them (docs/caching.md#stale-while-revalidate). Entries are
    /// kept in the store for TTL + `grace`. Refreshes need [`ResponseCache::refresh_through`].
    pub fn with_grace(mut self, grace: Duration) -> Self {
        Arc::make_mut(&mut self.0).grace = grace;
        self
    }

    /// Sends background refreshes through `app`, the endpoint this cache is installed in. A
    /// weak reference, so the app (which holds the cache) can still be dropped; without an
    /// app, stale entries are still served within the grace period but not refreshed early.
    pub fn refresh_through(&self, app: Weak<dyn DynEndpoint<Output = Response>>) {
        self.0.refresher.install(app);
    }

    /// Background refreshes running now.
    pub fn refreshes_in_flight(&self) -> usize {
        self.0.refresher.in_flight()
    }

    /// How long entries stay in the store: their TTL plus the grace period.
    pub(super) fn kept_for(&self, ttl: Ttl) -> Duration {
        self.ttl(ttl) + self.0.grace
    }

    /// Whether an entry is fresh (with whole seconds of TTL left), stale (inside the grace
    /// period) or gone. Redis' remaining time is preferred: the one clock every instance
    /// shares; the entry's own timestamp is the fallback for backends that do not report it.
    pub(super) fn freshness(
        &self,
        ttl: Ttl,
        expires_in: Option<Duration>,
        stored_at: u64,
    ) -> Freshness {
        let ttl = self.ttl(ttl);
        if self.0.grace.is_zero() {
            // Without a grace period the store's own expiry is the only one.
            let left = match expires_in {
                Some(left) => left.as_secs(),
                None => ttl
                    .as_secs()
                    .saturating_sub(unix_now().saturating_sub(stored_at)),
            };
            return Freshness::Fresh(left);
        }
        let past_ttl = match expires_in {
            Some(left) if left > self.0.grace => {
                return Freshness::Fresh((left - self.0.grace).as_secs());
            }
            Some(_) => true,
            None => {
                let age = Duration::from_secs(unix_now().saturating_sub(stored_at));
                if age < ttl {
                    return Freshness::Fresh((ttl - age).as_secs());
                }
                age < ttl + self.0.grace
            }
        };
        if past_ttl {
            Freshness::Stale
        } else {
            Freshness::Gone
        }
    }

    /// The same cache with `ttl = feeds` entries kept for `ttl` (`REDIS_CACHE_TTL_FEEDS`;
    /// [`DEFAULT_TTL_FEEDS`] otherwise).
    pub fn with_ttl_feeds(mut self, ttl: Duration) -> Self {
        Arc::make_mut(&mut self.0).ttl_feeds = ttl;
        self
    }

    /// The same cache with coalesced waiters waiting at most `wait` for their leader; past
    /// it, a waiter runs the handler itself (docs/caching.md#coalescing).
    pub fn with_coalesce_wait(mut self, wait: Duration) -> Self {
        Arc::make_mut(&mut self.0).coalesce_wait = wait;
        self
    }

    /// The same cache without coalescing of concurrent misses: every miss runs the handler.
    /// Coalescing is on by default; this exists for comparisons (`hub-bench`) and tests.
    pub fn without_coalescing(mut self) -> Self {
        Arc::make_mut(&mut self.0).flights = None;
        self
    }

    /// Whether concurrent misses of one key run the handler once (docs/contract/cache-design.md section 6).
    pub fn coalescing(&self) -> bool {
        self.0.flights.is_some()
    }

    /// The same cache, also reporting its events to `observer` (metrics, benchmarks).
    /// Observers added earlier keep receiving them.
    pub fn with_observer(mut self, observer: Arc<dyn CacheObserver>) -> Self {
        let parts = Arc::make_mut(&mut self.0);
        parts.observer = parts.observer.clone().with(observer);
        self
    }

    /// The backend (for health checks, invalidation and shutdown).
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.0.backend
    }

    /// The concrete TTL for a selector.
    pub fn ttl(&self, ttl: Ttl) -> Duration {
        match ttl {
            Ttl::Default => self.0.ttl_default,
            Ttl::Dashboard => self.0.ttl_dashboard,
            Ttl::Feeds => self.0.ttl_feeds,
            Ttl::Seconds(n) => Duration::from_secs(n),
        }
    }
}

/// See [`ResponseCache::freshness`].
pub(super) enum Freshness {
    Fresh(u64),
    Stale,
    Gone,
}
