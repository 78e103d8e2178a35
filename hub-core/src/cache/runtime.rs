//! What `#[cached]` handlers call at run time (docs/contract/cache-design.md sections 1-4 and 6).
//!
//! The `hub-macros` expansion of a cached handler is, in essence:
//!
//! ```text
//! static SPEC: CacheSpec = CacheSpec {
//!     name: "nodes", ttl: Ttl::Default, params: &[KeyParam::first("limit")],
//!     depends: &["profiles"],
//! };
//! serve(&SPEC, __hub_req, variant(role_key, __hub_req), async move { /* body */ }).await
//! ```
//!
//! Hand-written use (what the macro generates) in a `poem-openapi` API:
//!
//! ```
//! use hub_core::cache::runtime::{serve, CacheSpec, Cached, Ttl};
//! use poem::Request;
//! use poem_openapi::{payload::Json, OpenApi};
//!
//! struct Api;
//!
//! #[OpenApi]
//! impl Api {
//!     #[oai(path = "/answer", method = "get")]
//!     async fn answer(&self, req: &Request) -> Cached<poem::Result<Json<u32>>> {
//!         static SPEC: CacheSpec =
//!             CacheSpec { name: "answer", ttl: Ttl::Default, params: &[], depends: &[] };
//!         serve(&SPEC, req, String::new(), async move { Ok(Json(42)) }).await
//!     }
//! }
//! ```
//!
//! The cache never fails or stalls a request: every backend error is a MISS, and backend calls
//! are bounded by the backend's own timeout.
//!
//! Every 200 answer to a GET/HEAD of a cached operation carries `X-Cache`, a strong `ETag` (the
//! hash of the exact body bytes, computed on a MISS too) and `Cache-Status` (RFC 9211), and
//! becomes a `304` when `If-None-Match` matches. Concurrent misses of one key run the handler
//! once (see `coalesce.rs`). `Cache-Control` is set by `hub-api`'s middleware, except on the
//! 200 and 304 answers of a [`Public`] operation, which carry `public, max-age=<ttl>` from here.
//!
//! Invalidation (docs/contract/cache-design.md section 7): a read fetches the entry and the current generations
//! of the names it depends on ([`super::names::generation_names`]) in one round trip, and
//! serves the entry only if it was stored under exactly those generations; a miss stores the
//! generations read BEFORE the handler ran. A write marked `#[invalidates(...)]` runs through
//! [`invalidating`], which bumps its names after the handler answered 2xx.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};
use std::task::{Context, Waker};
use std::time::Duration;

use poem::endpoint::DynEndpoint;
use poem::error::IntoResult;
use poem::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use poem::http::{HeaderMap, HeaderValue, Method, StatusCode};
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};

use super::backend::{CacheBackend, Found, NullCache};
use super::coalesce::{Flight, Flights, Leader, Shared, Storing};
use super::envelope::{Envelope, etag_for, unix_now};
use super::key::build_key;
pub use super::key::{KeyParam, ParamRead};
use super::observer::{CacheObserver, Lookup, Observers};
use super::redis::{RedisCache, RedisOptions};
use super::refresh::{Refresher, Refreshing};
use super::settings::CacheSettings;

/// Response header telling whether the response came from the cache.
pub const X_CACHE: &str = "x-cache";

/// RFC 9211 response header with the cache's detail, e.g. `hub; hit; ttl=12`.
pub const CACHE_STATUS: &str = "cache-status";

/// Bodies larger than this are served but not stored: one huge response should not evict a
/// large part of the cache or hold a big buffer per request.
pub const MAX_STORED_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Which TTL a cached operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// `REDIS_CACHE_TTL`.
    Default,
    /// `REDIS_CACHE_TTL_DASHBOARD`.
    Dashboard,
    /// `REDIS_CACHE_TTL_FEEDS`.
    Feeds,
    /// A fixed number of seconds from the attribute.
    Seconds(u64),
}

/// Compile-time description of one cached operation, emitted by `#[cached]`.
#[derive(Debug)]
pub struct CacheSpec {
    /// Cache name, e.g. `dashboard/stats`; also the invalidation unit.
    pub name: &'static str,
    /// TTL selector.
    pub ttl: Ttl,
    /// The query and path parameters the handler declares, and how it reads each; only what
    /// it reads of them enters the key (see [`super::key::canonical_params`]).
    pub params: &'static [KeyParam],
    /// Other cache names whose invalidation must also invalidate this operation's entries
    /// (`#[cached(depends = [...])]`). The name itself and its ancestors are always included.
    pub depends: &'static [&'static str],
}

/// Implemented by `#[cached_api]` for every API type it expands: the cache names of the
/// type's `#[cached]` operations, so that an app can check that no two operations of all the
/// APIs it mounts share a name (names are only checked within one impl at compile time).
pub trait CachedApi {
    /// One entry per `#[cached]` operation, in declaration order.
    const CACHE_NAMES: &'static [&'static str];
}

/// Who may keep a cached operation's responses, as its `Cache-Control` tells clients and
/// shared caches: the second type parameter of [`Cached`], so that the OpenAPI document
/// states each operation's own header.
pub trait Audience: 'static {
    /// Whether every caller gets the same response, so that any cache may keep it for the
    /// operation's TTL (`Cache-Control: public, max-age=<ttl>`).
    const PUBLIC: bool;

    /// The `Cache-Control` header as the OpenAPI document describes it.
    fn cache_control_header() -> MetaHeader;
}

/// The default [`Audience`]: responses may vary by role and be invalidated server-side, so
/// `hub-api` marks them `private, no-cache` and clients revalidate with `If-None-Match`.
#[derive(Debug, Clone, Copy)]
pub struct Private;

impl Audience for Private {
    const PUBLIC: bool = false;

    fn cache_control_header() -> MetaHeader {
        string_header(
            "Cache-Control",
            "`private, no-cache`: responses vary by role and may be invalidated server-side, \
             so clients revalidate with If-None-Match. Absent when API_CACHE_CONTROL_ENABLED \
             is false.",
            false,
            &[],
        )
    }
}

/// The [`Audience`] of `#[cached(public)]` operations (the RSS and Atom feeds): the same
/// response for every caller, keyed by path alone; 200 and 304 answers carry
/// `Cache-Control: public, max-age=<the operation's TTL in seconds>`.
#[derive(Debug, Clone, Copy)]
pub struct Public;

impl Audience for Public {
    const PUBLIC: bool = true;

    fn cache_control_header() -> MetaHeader {
        string_header(
            "Cache-Control",
            "`public, max-age=<seconds>`: the same response for every caller, which any cache \
             may keep for the operation's TTL. Absent when API_CACHE_CONTROL_ENABLED is false.",
            false,
            &[],
        )
    }
}

/// Compile-time description of a write operation, emitted by `#[invalidates(...)]`.
#[derive(Debug)]
pub struct InvalidateSpec {
    /// The cache names whose generations the write bumps after a 2xx answer.
    pub names: &'static [&'static str],
}

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
#[derive(Clone)]
pub struct ResponseCache {
    backend: Arc<dyn CacheBackend>,
    ttl_default: Duration,
    ttl_dashboard: Duration,
    ttl_feeds: Duration,
    observer: Observers,
    /// Misses in flight, for coalescing; `None` when coalescing is off.
    flights: Option<Arc<Flights>>,
    /// Longest a coalesced waiter waits for its leader before running the handler itself.
    coalesce_wait: Duration,
    /// How long past its TTL an entry is still served while it is refreshed
    /// (`REDIS_CACHE_GRACE`); zero turns stale-while-revalidate off.
    grace: Duration,
    refresher: Arc<Refresher>,
}

/// Default of [`ResponseCache::with_ttl_feeds`] (`REDIS_CACHE_TTL_FEEDS`).
pub const DEFAULT_TTL_FEEDS: Duration = Duration::from_secs(300);

/// Default of [`ResponseCache::with_coalesce_wait`] (`CACHE_COALESCE_WAIT_MS`).
pub const DEFAULT_COALESCE_WAIT: Duration = Duration::from_secs(10);

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("backend", &self.backend.kind())
            .field("ttl_default", &self.ttl_default)
            .field("ttl_dashboard", &self.ttl_dashboard)
            .field("ttl_feeds", &self.ttl_feeds)
            .field("coalescing", &self.coalescing())
            .field("coalesce_wait", &self.coalesce_wait)
            .field("grace", &self.grace)
            .field("refresher", &self.refresher)
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
        Self {
            backend,
            ttl_default,
            ttl_dashboard,
            ttl_feeds: DEFAULT_TTL_FEEDS,
            observer: Observers::default(),
            flights: Some(Arc::default()),
            coalesce_wait: DEFAULT_COALESCE_WAIT,
            grace: Duration::ZERO,
            refresher: Arc::default(),
        }
    }

    /// The same cache serving entries up to `grace` past their TTL while one background
    /// refresh per key recomputes them (docs/caching.md#stale-while-revalidate). Entries are
    /// kept in the store for TTL + `grace`. Refreshes need [`ResponseCache::refresh_through`].
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Sends background refreshes through `app`, the endpoint this cache is installed in. A
    /// weak reference, so the app (which holds the cache) can still be dropped; without an
    /// app, stale entries are still served within the grace period but not refreshed early.
    pub fn refresh_through(&self, app: Weak<dyn DynEndpoint<Output = Response>>) {
        self.refresher.install(app);
    }

    /// Background refreshes running now.
    pub fn refreshes_in_flight(&self) -> usize {
        self.refresher.in_flight()
    }

    /// How long entries stay in the store: their TTL plus the grace period.
    fn kept_for(&self, ttl: Ttl) -> Duration {
        self.ttl(ttl) + self.grace
    }

    /// Whether an entry is fresh (with whole seconds of TTL left), stale (inside the grace
    /// period) or gone. Redis' remaining time is preferred: the one clock every instance
    /// shares; the entry's own timestamp is the fallback for backends that do not report it.
    fn freshness(&self, ttl: Ttl, expires_in: Option<Duration>, stored_at: u64) -> Freshness {
        let ttl = self.ttl(ttl);
        if self.grace.is_zero() {
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
            Some(left) if left > self.grace => {
                return Freshness::Fresh((left - self.grace).as_secs());
            }
            Some(_) => true,
            None => {
                let age = Duration::from_secs(unix_now().saturating_sub(stored_at));
                if age < ttl {
                    return Freshness::Fresh((ttl - age).as_secs());
                }
                age < ttl + self.grace
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
        self.ttl_feeds = ttl;
        self
    }

    /// The same cache with coalesced waiters waiting at most `wait` for their leader; past
    /// it, a waiter runs the handler itself (docs/caching.md#coalescing).
    pub fn with_coalesce_wait(mut self, wait: Duration) -> Self {
        self.coalesce_wait = wait;
        self
    }

    /// The same cache without coalescing of concurrent misses: every miss runs the handler.
    /// Coalescing is on by default; this exists for comparisons (`hub-bench`) and tests.
    pub fn without_coalescing(mut self) -> Self {
        self.flights = None;
        self
    }

    /// Whether concurrent misses of one key run the handler once (docs/contract/cache-design.md section 6).
    pub fn coalescing(&self) -> bool {
        self.flights.is_some()
    }

    /// The same cache, also reporting its events to `observer` (metrics, benchmarks).
    /// Observers added earlier keep receiving them.
    pub fn with_observer(mut self, observer: Arc<dyn CacheObserver>) -> Self {
        self.observer = self.observer.with(observer);
        self
    }

    /// The backend (for health checks, invalidation and shutdown).
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.backend
    }

    /// The concrete TTL for a selector.
    pub fn ttl(&self, ttl: Ttl) -> Duration {
        match ttl {
            Ttl::Default => self.ttl_default,
            Ttl::Dashboard => self.ttl_dashboard,
            Ttl::Feeds => self.ttl_feeds,
            Ttl::Seconds(n) => Duration::from_secs(n),
        }
    }
}

/// See [`ResponseCache::freshness`].
enum Freshness {
    Fresh(u64),
    Stale,
    Gone,
}

enum Outcome {
    Hit(Envelope),
    Miss(Response),
    /// The handler's own error, passed through untouched so error middleware (e.g. the JSON
    /// `{"detail": ...}` renderer) sees exactly what an uncached handler would produce.
    Err(poem::Error),
}

/// Return type of a cached handler: a replayed entry (HIT), the handler's response (MISS), or
/// the handler's error.
///
/// Implements [`ApiResponse`] (metadata = `R`'s with the cache headers on its 2xx responses,
/// plus a `304` response, so typed body schemas and documented errors are kept) and
/// [`IntoResult<Response>`](poem::error::IntoResult), which is what `#[OpenApi]` and
/// `#[handler]` code calls. It deliberately does not implement `IntoResponse`: that would force
/// handler errors to be rendered here instead of propagating as `Err(poem::Error)`, so error
/// middleware would behave differently on cached operations. Errors therefore carry no
/// `X-Cache`, `ETag` or `Cache-Status` header. Use [`Cached::into_response`] to render one
/// directly.
///
/// `R`'s custom `bad_request_handler` (if any) is not used: request-parsing errors of cached
/// operations propagate as `poem::Error`, like those of any operation without one.
///
/// `A` is the operation's [`Audience`]: [`Private`] unless it is `#[cached(public)]`.
pub struct Cached<R, A: Audience = Private> {
    outcome: Outcome,
    /// `Cache-Status` value, e.g. `hub; fwd=miss; stored`.
    status: Option<String>,
    /// Strong ETag of the body (200 responses to GET/HEAD only).
    etag: Option<String>,
    /// Answer `304 Not Modified` instead of the body (the request's `If-None-Match` matched).
    not_modified: bool,
    /// `Cache-Control` of a [`Public`] operation's 200 or 304 answer.
    cache_control: Option<String>,
    // `fn() -> (R, A)` keeps `Cached` Send + Sync whatever `R` and `A` are; none is stored.
    _r: PhantomData<fn() -> (R, A)>,
}

impl<R, A: Audience> std::fmt::Debug for Cached<R, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Outcome::Hit(e) => f.debug_tuple("Cached::Hit").field(&e.etag).finish(),
            Outcome::Miss(r) => f.debug_tuple("Cached::Miss").field(&r.status()).finish(),
            Outcome::Err(e) => f.debug_tuple("Cached::Err").field(e).finish(),
        }
    }
}

impl<R, A: Audience> Cached<R, A> {
    fn with(outcome: Outcome) -> Self {
        Self {
            outcome,
            status: None,
            etag: None,
            not_modified: false,
            cache_control: None,
            _r: PhantomData,
        }
    }

    fn hit(envelope: Envelope, status: String) -> Self {
        let etag = Some(envelope.etag.clone());
        Self {
            status: Some(status),
            etag,
            ..Self::with(Outcome::Hit(envelope))
        }
    }

    /// A MISS carrying an already built response.
    pub fn miss(response: Response) -> Self {
        Self::with(Outcome::Miss(response))
    }

    /// True when served from the cache.
    pub fn is_hit(&self) -> bool {
        matches!(self.outcome, Outcome::Hit(_))
    }

    /// The handler's error, passed through.
    pub fn error(err: poem::Error) -> Self {
        Self::with(Outcome::Err(err))
    }

    /// The stored envelope on a HIT (ETag, stored-at, generation).
    pub fn envelope(&self) -> Option<&Envelope> {
        match &self.outcome {
            Outcome::Hit(e) => Some(e),
            _ => None,
        }
    }

    /// The strong ETag of the body, when there is one (200 responses to GET and HEAD).
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// The `Cache-Status` value, when set.
    pub fn cache_status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    /// True when the response will be a `304 Not Modified`.
    pub fn is_not_modified(&self) -> bool {
        self.not_modified
    }

    /// The `Cache-Control` a [`Public`] operation's 200 or 304 answer carries.
    pub fn cache_control(&self) -> Option<&str> {
        self.cache_control.as_deref()
    }

    /// Marks a [`Public`] operation's answer `public, max-age=<max_age>`; does nothing for
    /// other audiences or when `max_age` is unknown (no cache in the request data).
    fn public_for(mut self, max_age: Option<Duration>) -> Self {
        if A::PUBLIC {
            self.cache_control = max_age.map(|ttl| format!("public, max-age={}", ttl.as_secs()));
        }
        self
    }

    fn status(mut self, status: String) -> Self {
        self.status = Some(status);
        self
    }

    /// Marks the response `304 Not Modified` when `if_none_match` matches its ETag.
    fn conditional(mut self, if_none_match: Option<&str>) -> Self {
        if let (Some(header), Some(etag)) = (if_none_match, self.etag.as_deref()) {
            self.not_modified = if_none_match_matches(header, etag);
        }
        self
    }

    /// The response with `X-Cache`, `Cache-Status` and `ETag` set (and turned into a `304`
    /// when `If-None-Match` matched), or the handler's error.
    pub fn into_result(self) -> poem::Result<Response> {
        let (mut resp, x_cache) = match self.outcome {
            Outcome::Hit(env) => {
                let status =
                    StatusCode::from_u16(env.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut resp = Response::builder().status(status);
                if !env.content_type.is_empty() {
                    resp = resp.content_type(env.content_type);
                }
                (resp.body(Body::from(env.body)), "HIT")
            }
            Outcome::Miss(resp) => (resp, "MISS"),
            Outcome::Err(e) => return Err(e),
        };
        let answered = self.not_modified || resp.status() == StatusCode::OK;
        let headers = resp.headers_mut();
        headers.insert(X_CACHE, HeaderValue::from_static(x_cache));
        if let Some(v) = self.status.and_then(|s| HeaderValue::from_str(&s).ok()) {
            headers.insert(CACHE_STATUS, v);
        }
        if let Some(v) = self.etag.and_then(|s| HeaderValue::from_str(&s).ok()) {
            headers.insert(ETAG, v);
        }
        if let Some(v) = self
            .cache_control
            .filter(|_| answered)
            .and_then(|s| HeaderValue::from_str(&s).ok())
        {
            headers.insert(CACHE_CONTROL, v);
        }
        if self.not_modified {
            // RFC 9110 15.4.5: no content; the validators and cache headers stay.
            headers.remove(CONTENT_TYPE);
            headers.remove(CONTENT_LENGTH);
            resp.set_status(StatusCode::NOT_MODIFIED);
            resp.set_body(Body::empty());
        }
        Ok(resp)
    }

    /// Renders the response; an error becomes its own response (with `X-Cache: MISS`).
    pub fn into_response(self) -> Response {
        self.into_result().unwrap_or_else(|e| {
            let mut resp = e.into_response();
            resp.headers_mut()
                .insert(X_CACHE, HeaderValue::from_static("MISS"));
            resp
        })
    }
}

/// Whether an `If-None-Match` value matches `etag`, with the weak comparison RFC 9110
/// section 13.1.2 prescribes for it: `*`, or any listed tag equal to `etag` once `W/` prefixes
/// are ignored on both.
///
/// ```
/// use hub_core::cache::runtime::if_none_match_matches;
/// let tag = "\"abc\"";
/// assert!(if_none_match_matches("\"abc\"", tag));
/// assert!(if_none_match_matches("*", tag));
/// assert!(if_none_match_matches("\"x\", W/\"abc\"", tag));
/// assert!(!if_none_match_matches("\"abcd\", \"x\"", tag));
/// assert!(!if_none_match_matches("abc", tag));
/// ```
pub fn if_none_match_matches(header: &str, etag: &str) -> bool {
    let opaque = |t: &str| -> String { t.trim().trim_start_matches("W/").to_owned() };
    let etag = opaque(etag);
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || opaque(t) == etag)
}

impl<R, A: Audience> IntoResult<Response> for Cached<R, A> {
    fn into_result(self) -> poem::Result<Response> {
        Cached::into_result(self)
    }
}

fn string_header(name: &str, description: &str, required: bool, values: &[&str]) -> MetaHeader {
    let mut schema = MetaSchema::new("string");
    schema.enum_items = values.iter().map(|v| (*v).into()).collect();
    MetaHeader {
        name: name.into(),
        description: Some(description.into()),
        required,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(schema)),
    }
}

/// The headers every response of a cached operation of audience `A` carries
/// (docs/contract/cache-design.md section 4).
fn cache_headers<A: Audience>() -> Vec<MetaHeader> {
    vec![
        string_header(
            "X-Cache",
            "HIT when served from the response cache (a stale entry being refreshed included: \
             see Cache-Status), MISS otherwise.",
            true,
            &["HIT", "MISS"],
        ),
        string_header(
            "ETag",
            "Strong validator: a hash of the exact body bytes, equal on HIT and MISS and \
             across restarts and instances. Send it back in If-None-Match to get a 304.",
            true,
            &[],
        ),
        string_header(
            "Cache-Status",
            "RFC 9211 cache detail: `hub; hit; ttl=<seconds left>`, `hub; hit; stale` (past its \
             TTL but within REDIS_CACHE_GRACE: served at once while one background refresh \
             recomputes it, and while that refresh fails; an entry invalidated by a write is \
             never served stale), `hub; fwd=miss; stored`, `hub; fwd=miss`, or \
             `hub; fwd=bypass; detail=disabled|unavailable`; `; collapsed` is added when the \
             response was shared with a concurrent identical request.",
            true,
            &[],
        ),
        A::cache_control_header(),
    ]
}

impl<R: ApiResponse, A: Audience> ApiResponse for Cached<R, A> {
    // `R`'s handler would return an `R`, which cannot be turned into a response here without
    // knowing its payload type (see the type docs), so parse errors take the default path.
    const BAD_REQUEST_HANDLER: bool = false;

    fn meta() -> MetaResponses {
        let mut meta = R::meta();
        // Only successful answers pass through the cache; errors propagate as `poem::Error`
        // without these headers (see the type docs), so documenting them there would be false.
        let successful = |resp: &MetaResponse| resp.status.is_some_and(|s| (200..300).contains(&s));
        for resp in meta.responses.iter_mut().filter(|r| successful(r)) {
            for header in cache_headers::<A>() {
                if !resp
                    .headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case(&header.name))
                {
                    resp.headers.push(header);
                }
            }
        }
        if !meta.responses.iter().any(|r| r.status == Some(304)) {
            meta.responses.push(MetaResponse {
                description: "Not Modified: If-None-Match matched the ETag; no content.",
                status: Some(304),
                status_range: None,
                content: Vec::new(),
                headers: cache_headers::<A>(),
            });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        // Unreachable while BAD_REQUEST_HANDLER is false; keep the error intact regardless.
        Self::error(err)
    }
}

/// Turns a `#[cached(key = path)]` function into the key's variant part.
///
/// Taking a `fn` pointer makes a key function with the wrong signature a type error at the
/// `key` path in the macro expansion.
///
/// ```
/// fn role_key(_req: &poem::Request) -> &'static str { "role=anonymous" }
/// let req = poem::Request::builder().finish();
/// assert_eq!(hub_core::cache::runtime::variant(role_key, &req), "role=anonymous");
/// ```
pub fn variant<K: Display>(key_fn: fn(&Request) -> K, req: &Request) -> String {
    key_fn(req).to_string()
}

/// Serves one cached operation: look up, on miss run `handler` (once per key across
/// concurrent misses), store 200 responses of GET requests, and mark the response with
/// `X-Cache`, `Cache-Status` and `ETag`, answering `304` when `If-None-Match` matches.
///
/// A cache that is absent from the request data, disabled, erroring or slow only ever turns
/// into a MISS; `handler` always runs in that case (or a concurrent identical request's
/// handler does) and its response is returned unchanged apart from the headers. `R` is
/// anything a poem handler may return (`T: IntoResponse`, or `Result<T, E>` with
/// `E: Into<poem::Error>`); `T` is inferred.
pub async fn serve<R, T, F, A>(
    spec: &'static CacheSpec,
    req: &Request,
    variant: String,
    handler: F,
) -> Cached<R, A>
where
    R: IntoResult<T> + ApiResponse,
    T: IntoResponse,
    F: Future<Output = R> + Send,
    A: Audience,
{
    let max_age = req.data::<ResponseCache>().map(|cache| cache.ttl(spec.ttl));
    lookup_or_compute(spec, req, variant, handler)
        .await
        .public_for(max_age)
}

/// [`serve`] but for the `Cache-Control` of public operations.
async fn lookup_or_compute<R, T, F, A>(
    spec: &'static CacheSpec,
    req: &Request,
    variant: String,
    handler: F,
) -> Cached<R, A>
where
    R: IntoResult<T> + ApiResponse,
    T: IntoResponse,
    F: Future<Output = R> + Send,
    A: Audience,
{
    let read = *req.method() == Method::GET || *req.method() == Method::HEAD;
    let conditional = if_none_match(req.headers());
    let inm = conditional.as_deref();
    let Some(cache) = req.data::<ResponseCache>() else {
        let fwd = if read { BYPASS_DISABLED } else { "method" };
        return compute(None, spec, fwd, read, false, None, handler)
            .await
            .conditional(inm);
    };
    let observer = &cache.observer;
    if !read {
        // Writes are never looked up, stored or coalesced.
        observer.lookup(spec.name, Lookup::Bypass);
        return compute(None, spec, "method", false, false, None, handler).await;
    }
    let key = build_key(
        spec.name,
        &variant,
        req.uri().query().unwrap_or(""),
        |index| path_param(req, index),
        spec.params,
    );

    // `generations`: those read with the lookup, `None` when the lookup did not reach the
    // store; then the store is skipped for the rest of this request, so one request waits for
    // an unreachable Redis at most once.
    let names = super::names::generation_names(spec.name, spec.depends);
    let refreshing = req.extensions().get::<Refreshing>().is_some();
    let (fwd, generations) = if cache.backend.is_enabled() {
        // Redis' remaining time decides freshness only when there is a grace period.
        let with_expiry = !cache.grace.is_zero();
        match cache.backend.lookup(&key, &names, with_expiry).await {
            Ok(Found {
                entry,
                generations,
                expires_in,
            }) => {
                // A corrupt, foreign or older-format entry decodes to None, and an entry
                // stored under other generations was invalidated since: both are a MISS that
                // the store below overwrites. Only TTL expiry makes an entry stale; an
                // invalidated one is never served.
                let valid = entry
                    .and_then(|bytes| Envelope::decode_shared(&bytes))
                    .filter(|e| e.status == 200 && e.generations == generations);
                if let Some(env) = valid {
                    match cache.freshness(spec.ttl, expires_in, env.stored_at) {
                        Freshness::Fresh(left) => {
                            observer.lookup(spec.name, Lookup::Hit);
                            return Cached::hit(env, format!("hub; hit; ttl={left}"))
                                .conditional(inm);
                        }
                        // A background refresh must recompute, not replay what it refreshes.
                        Freshness::Stale if !refreshing => {
                            observer.lookup(spec.name, Lookup::Stale);
                            cache.refresher.start(&key, req);
                            return Cached::hit(env, "hub; hit; stale".to_owned()).conditional(inm);
                        }
                        Freshness::Stale | Freshness::Gone => {}
                    }
                }
                observer.lookup(spec.name, Lookup::Miss);
                ("miss", Some(generations))
            }
            Err(_) => {
                observer.error(spec.name);
                observer.lookup(spec.name, Lookup::Bypass);
                (BYPASS_UNAVAILABLE, None)
            }
        }
    } else {
        observer.lookup(spec.name, Lookup::Bypass);
        (BYPASS_DISABLED, None)
    };
    // Requests that read different generations never share a flight: one that starts after a
    // write must not be handed the result of a handler that started before it.
    let flight_key = match &generations {
        Some(g) => format!("{key}#{g:?}"),
        None => key.clone(),
    };
    let store = generations.map(|generations| Store {
        cache,
        key: key.as_str(),
        generations,
    });

    let is_get = *req.method() == Method::GET;
    let Some(flights) = &cache.flights else {
        return compute(store, spec, fwd, true, is_get, None, handler)
            .await
            .conditional(inm);
    };
    let fresh = match flights.take_part(&flight_key, cache.coalesce_wait).await {
        Flight::Lead(leader) => {
            compute(store, spec, fwd, true, is_get, Some(leader), handler).await
        }
        Flight::Alone => compute(store, spec, fwd, true, is_get, None, handler).await,
        Flight::Collapsed(shared) => {
            observer.coalesced(spec.name);
            let mut resp = Response::builder()
                .status(StatusCode::OK)
                .body(Body::from(shared.body.clone()));
            *resp.headers_mut() = shared.headers.clone();
            let etag = Some(shared.etag.clone());
            Cached {
                etag,
                ..Cached::miss(resp)
            }
            .status(format!("hub; fwd={fwd}; collapsed"))
        }
        // The entry being stored, served as a stored one would be: this request missed only
        // because the leader's write had not reached the store yet.
        Flight::Published(shared) => {
            observer.coalesced(spec.name);
            let content_type = shared
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let env = Envelope {
                status: 200,
                content_type: content_type.to_owned(),
                etag: shared.etag.clone(),
                stored_at: shared.computed_at,
                generations: Vec::new(),
                body: shared.body.clone(),
            };
            let left = remaining_ttl(cache.ttl(spec.ttl), env.stored_at);
            Cached::hit(env, format!("hub; hit; ttl={left}"))
        }
    };
    fresh.conditional(inm)
}

/// The raw value of the handler's `index`th path parameter. poem-openapi routes path
/// parameters under positional names (`param0`, `param1`, ...); should that ever change, the
/// whole request path stands in, which still keys each path apart.
fn path_param(req: &Request, index: usize) -> Option<&str> {
    req.raw_path_param(&format!("param{index}"))
        .or(Some(req.uri().path()))
}

/// `Cache-Status` forward reason when the cache is disabled (or absent).
const BYPASS_DISABLED: &str = "bypass; detail=disabled";
/// `Cache-Status` forward reason when the lookup failed (timeout, error, open circuit).
const BYPASS_UNAVAILABLE: &str = "bypass; detail=unavailable";

/// Where a miss stores its response: the key, and the generations read before the handler ran.
struct Store<'a> {
    cache: &'a ResponseCache,
    key: &'a str,
    generations: Vec<u64>,
}

/// Runs the handler; for a 200 answer to a read, buffers the body, computes its ETag, hands
/// the response to the waiters of `leader`, then stores it in `store` (GET only) in a spawned
/// task, so that neither the waiters nor this request's client wait for the store's write.
/// Sets `Cache-Status` to `hub; fwd=miss; stored` when the response is being stored, else
/// `hub; fwd=<fwd>`.
async fn compute<R, T, F, A>(
    store: Option<Store<'_>>,
    spec: &'static CacheSpec,
    fwd: &str,
    read: bool,
    get: bool,
    leader: Option<Leader>,
    handler: F,
) -> Cached<R, A>
where
    R: IntoResult<T>,
    T: IntoResponse,
    F: Future<Output = R>,
    A: Audience,
{
    let resp = match handler.await.into_result() {
        Ok(v) => v.into_response(),
        Err(e) => return Cached::error(e),
    };
    if !read || resp.status() != StatusCode::OK {
        return Cached::miss(resp).status(format!("hub; fwd={fwd}"));
    }
    let (parts, body) = resp.into_parts();
    let body = match body.into_bytes().await {
        Ok(b) => b,
        // The body is gone; report the read failure as the response would have failed anyway.
        Err(e) => return Cached::error(poem::Error::from(e)),
    };
    let store = store.filter(|_| get && body.len() <= MAX_STORED_BODY_BYTES);
    let envelope = store.as_ref().map(|s| {
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Envelope::new(200, content_type, s.generations.clone(), body.to_vec())
    });
    let (etag, computed_at) = match &envelope {
        Some(env) => (env.etag.clone(), env.stored_at),
        None => (etag_for(&body), unix_now()),
    };
    let storing = leader.map(|leader| {
        leader.publish(Arc::new(Shared {
            headers: parts.headers.clone(),
            body: body.clone(),
            etag: etag.clone(),
            computed_at,
        }))
    });
    let encoded = envelope.as_ref().and_then(Envelope::encode);
    let status = match (store, encoded) {
        (Some(store), Some(encoded)) => {
            store.spawn_write(spec, encoded, storing);
            "hub; fwd=miss; stored".to_owned()
        }
        _ => format!("hub; fwd={fwd}"),
    };
    let cached = Cached {
        etag: Some(etag),
        ..Cached::miss(Response::from_parts(parts, Body::from(body)))
    };
    cached.status(status)
}

impl Store<'_> {
    /// Writes `encoded` under the key in a task of its own; `storing` (the published flight,
    /// if any) ends when the write does, so requests that miss meanwhile get the published
    /// response instead of running the handler again.
    fn spawn_write(self, spec: &'static CacheSpec, encoded: Vec<u8>, storing: Option<Storing>) {
        let cache = self.cache.clone();
        let key = self.key.to_owned();
        let write = async move {
            // Errors are already logged (rate-limited) by the backend; a failed store only
            // means the next request misses.
            match cache
                .backend
                .set(&key, &encoded, cache.kept_for(spec.ttl))
                .await
            {
                Ok(()) => cache.observer.stored(spec.name),
                Err(_) => cache.observer.error(spec.name),
            }
            drop(storing);
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime nothing could drive the write; skipping the store is a miss
            // next time, never a failure now.
            tracing::debug!(target: "hub::cache", "no runtime; response not stored");
            return;
        };
        // One poll here, before this request answers, queues the SET on the connection
        // without waiting for its reply: a lookup this client sends after the answer then
        // reaches Redis after the SET and is a HIT, instead of racing the spawned task.
        let mut write = Box::pin(write);
        let mut cx = Context::from_waker(Waker::noop());
        if write.as_mut().poll(&mut cx).is_pending() {
            runtime.spawn(write);
        }
    }
}

/// Seconds an entry stored at `stored_at` (Unix seconds) has left of `ttl`, never negative.
fn remaining_ttl(ttl: Duration, stored_at: u64) -> u64 {
    ttl.as_secs()
        .saturating_sub(unix_now().saturating_sub(stored_at))
}

/// All `If-None-Match` field lines of a request, joined as one list.
fn if_none_match(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Return type of a write handler marked `#[invalidates(...)]`: the handler's response (or
/// error), after the invalidation ran.
///
/// Its [`ApiResponse`] metadata is exactly `R`'s (a write gets no cache headers), so the
/// OpenAPI document does not change. Like [`Cached`], it implements
/// [`IntoResult<Response>`](poem::error::IntoResult) and passes handler errors through
/// untouched.
pub struct Invalidated<R> {
    result: poem::Result<Response>,
    // See `Cached::_r`.
    _r: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Invalidated<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Ok(r) => f.debug_tuple("Invalidated::Ok").field(&r.status()).finish(),
            Err(e) => f.debug_tuple("Invalidated::Err").field(e).finish(),
        }
    }
}

impl<R> Invalidated<R> {
    /// The handler's response, or its error.
    pub fn into_result(self) -> poem::Result<Response> {
        self.result
    }
}

impl<R> IntoResult<Response> for Invalidated<R> {
    fn into_result(self) -> poem::Result<Response> {
        self.result
    }
}

impl<R: ApiResponse> ApiResponse for Invalidated<R> {
    // As for `Cached`: a custom bad-request handler would have to build an `R`.
    const BAD_REQUEST_HANDLER: bool = false;

    fn meta() -> MetaResponses {
        R::meta()
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
    }

    fn from_parse_request_error(err: poem::Error) -> Self {
        Self {
            result: Err(err),
            _r: PhantomData,
        }
    }
}

/// Runs a write handler, then, if it answered 2xx, bumps the generations of `spec.names` in
/// one round trip (what `#[invalidates(...)]` expands to).
///
/// The handler returns after its transaction committed, so every read that starts after the
/// bump sees the new generations and recomputes from committed data. Invalidation never fails
/// or changes the response: with the cache absent or disabled it is skipped; a backend error
/// (Redis down, timeout, open circuit) is logged by the backend, counted as a cache error, and
/// the response is returned unchanged; entries of those names may then be served until their
/// TTL ends. The wait is bounded by the backend's timeout (none while its breaker is open).
/// Writes are never looked up, stored or coalesced here.
pub async fn invalidating<R, T, F>(
    spec: &'static InvalidateSpec,
    req: &Request,
    handler: F,
) -> Invalidated<R>
where
    R: IntoResult<T> + ApiResponse,
    T: IntoResponse,
    F: Future<Output = R> + Send,
{
    let result = handler.await.into_result().map(IntoResponse::into_response);
    let succeeded = result.as_ref().is_ok_and(|r| r.status().is_success());
    if succeeded && let Some(cache) = req.data::<ResponseCache>() {
        cache.invalidate(spec.names).await;
    }
    Invalidated {
        result,
        _r: PhantomData,
    }
}

impl ResponseCache {
    /// Bumps the generations of `names` in one round trip and reports each to the observers;
    /// returns whether the backend took the bump. Never fails: a disabled cache is a no-op, a
    /// backend error is counted (`error` event per name) and otherwise ignored.
    pub async fn invalidate(&self, names: &[&'static str]) -> bool {
        if names.is_empty() || !self.backend.is_enabled() {
            return false;
        }
        match self.backend.invalidate_many(names).await {
            Ok(()) => {
                names.iter().for_each(|n| self.observer.invalidated(n));
                true
            }
            Err(e) => {
                tracing::debug!(target: "hub::cache", error = %e, ?names,
                    "invalidation skipped; entries expire with their TTL");
                names.iter().for_each(|n| self.observer.error(n));
                false
            }
        }
    }
}
