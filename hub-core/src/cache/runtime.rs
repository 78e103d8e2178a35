//! What `#[cached]` handlers call at run time (CACHING.md sections 1-3).
//!
//! The `hub-macros` expansion of a cached handler is, in essence:
//!
//! ```text
//! static SPEC: CacheSpec = CacheSpec { name: "nodes", ttl: Ttl::Default, params: &["limit"] };
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
//!         static SPEC: CacheSpec = CacheSpec { name: "answer", ttl: Ttl::Default, params: &[] };
//!         serve(&SPEC, req, String::new(), async move { Ok(Json(42)) }).await
//!     }
//! }
//! ```
//!
//! The cache never fails or stalls a request: every backend error is a MISS, and backend calls
//! are bounded by the backend's own timeout.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use poem::error::IntoResult;
use poem::http::header::CONTENT_TYPE;
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaHeader, MetaResponses, MetaSchema, MetaSchemaRef, Registry};

use super::backend::{CacheBackend, NullCache};
use super::envelope::Envelope;
use super::key::build_key;
use super::observer::{CacheObserver, Lookup, NoObserver};
use super::redis::{RedisCache, RedisOptions};
use super::settings::CacheSettings;

/// Response header telling whether the response came from the cache.
pub const X_CACHE: &str = "x-cache";

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
    /// Public names of the query parameters the handler declares; only these enter the key.
    pub params: &'static [&'static str],
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
    observer: Arc<dyn CacheObserver>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("backend", &self.backend.kind())
            .field("ttl_default", &self.ttl_default)
            .field("ttl_dashboard", &self.ttl_dashboard)
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
            observer: Arc::new(NoObserver),
        }
    }

    /// The same cache, reporting its events to `observer` (metrics).
    pub fn with_observer(mut self, observer: Arc<dyn CacheObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The observer events are reported to.
    pub fn observer(&self) -> &Arc<dyn CacheObserver> {
        &self.observer
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
            Ttl::Seconds(n) => Duration::from_secs(n),
        }
    }
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
/// Implements [`ApiResponse`] (metadata = `R`'s with an `X-Cache` header on every response, so
/// typed body schemas are kept) and [`IntoResult<Response>`](poem::error::IntoResult), which is
/// what `#[OpenApi]` and `#[handler]` code calls. It deliberately does not implement
/// `IntoResponse`: that would force handler errors to be rendered here instead of propagating
/// as `Err(poem::Error)`, so error middleware would behave differently on cached operations.
/// Errors therefore carry no `X-Cache` header. Use [`Cached::into_response`] to render one
/// directly.
///
/// `R`'s custom `bad_request_handler` (if any) is not used: request-parsing errors of cached
/// operations propagate as `poem::Error`, like those of any operation without one.
pub struct Cached<R> {
    outcome: Outcome,
    // `fn() -> R` keeps `Cached<R>` Send + Sync whatever `R` is; no `R` is ever stored.
    _r: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Cached<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Outcome::Hit(e) => f.debug_tuple("Cached::Hit").field(&e.etag).finish(),
            Outcome::Miss(r) => f.debug_tuple("Cached::Miss").field(&r.status()).finish(),
            Outcome::Err(e) => f.debug_tuple("Cached::Err").field(e).finish(),
        }
    }
}

impl<R> Cached<R> {
    fn hit(envelope: Envelope) -> Self {
        Self {
            outcome: Outcome::Hit(envelope),
            _r: PhantomData,
        }
    }

    /// A MISS carrying an already built response.
    pub fn miss(response: Response) -> Self {
        Self {
            outcome: Outcome::Miss(response),
            _r: PhantomData,
        }
    }

    /// True when served from the cache.
    pub fn is_hit(&self) -> bool {
        matches!(self.outcome, Outcome::Hit(_))
    }

    /// The handler's error, passed through.
    pub fn error(err: poem::Error) -> Self {
        Self {
            outcome: Outcome::Err(err),
            _r: PhantomData,
        }
    }

    /// The stored envelope on a HIT (ETag, stored-at, generation).
    pub fn envelope(&self) -> Option<&Envelope> {
        match &self.outcome {
            Outcome::Hit(e) => Some(e),
            _ => None,
        }
    }

    /// The response with `X-Cache` set, or the handler's error.
    pub fn into_result(self) -> poem::Result<Response> {
        match self.outcome {
            Outcome::Hit(env) => {
                let status =
                    StatusCode::from_u16(env.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut resp = Response::builder().status(status);
                if !env.content_type.is_empty() {
                    resp = resp.content_type(env.content_type);
                }
                Ok(resp
                    .header(X_CACHE, HeaderValue::from_static("HIT"))
                    .body(Body::from(env.body)))
            }
            Outcome::Miss(mut resp) => {
                resp.headers_mut()
                    .insert(X_CACHE, HeaderValue::from_static("MISS"));
                Ok(resp)
            }
            Outcome::Err(e) => Err(e),
        }
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

impl<R> IntoResult<Response> for Cached<R> {
    fn into_result(self) -> poem::Result<Response> {
        Cached::into_result(self)
    }
}

fn x_cache_header() -> MetaHeader {
    let mut schema = MetaSchema::new("string");
    schema.enum_items = vec!["HIT".into(), "MISS".into()];
    MetaHeader {
        name: "X-Cache".into(),
        description: Some("HIT when served from the response cache, MISS otherwise.".into()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(schema)),
    }
}

impl<R: ApiResponse> ApiResponse for Cached<R> {
    // `R`'s handler would return an `R`, which cannot be turned into a response here without
    // knowing its payload type (see the type docs), so parse errors take the default path.
    const BAD_REQUEST_HANDLER: bool = false;

    fn meta() -> MetaResponses {
        let mut meta = R::meta();
        for resp in &mut meta.responses {
            if !resp
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("x-cache"))
            {
                resp.headers.push(x_cache_header());
            }
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

/// Serves one cached operation: look up, on miss run `handler`, store 200 responses of GET
/// requests, mark the response with `X-Cache`.
///
/// A cache that is absent from the request data, disabled, erroring or slow only ever turns
/// into a MISS; `handler` always runs in that case and its response is returned unchanged
/// apart from the header. `R` is anything a poem handler may return (`T: IntoResponse`, or
/// `Result<T, E>` with `E: Into<poem::Error>`); `T` is inferred.
pub async fn serve<R, T, F>(
    spec: &'static CacheSpec,
    req: &Request,
    variant: String,
    handler: F,
) -> Cached<R>
where
    R: IntoResult<T> + ApiResponse,
    T: IntoResponse,
    F: Future<Output = R> + Send,
{
    let cache = req
        .data::<ResponseCache>()
        .filter(|c| c.backend.is_enabled())
        .cloned();
    let Some(cache) = cache else {
        if let Some(cache) = req.data::<ResponseCache>() {
            cache.observer.lookup(spec.name, Lookup::Bypass);
        }
        return run(handler).await;
    };
    let observer = &cache.observer;
    let method = req.method();
    let key = build_key(
        spec.name,
        &variant,
        req.uri().query().unwrap_or(""),
        spec.params,
    );

    // Whether the lookup reached the store; if it did not, the store is skipped for the rest
    // of this request, so one request waits for an unreachable Redis at most once.
    let mut reachable = true;
    if *method == Method::GET || *method == Method::HEAD {
        match cache.backend.get(&key).await {
            // A corrupt or foreign entry decodes to None: MISS, and the store below overwrites it.
            Ok(Some(bytes)) => {
                if let Some(env) = Envelope::decode(&bytes).filter(|e| e.status == 200) {
                    observer.lookup(spec.name, Lookup::Hit);
                    return Cached::hit(env);
                }
                observer.lookup(spec.name, Lookup::Miss);
            }
            Ok(None) => observer.lookup(spec.name, Lookup::Miss),
            Err(_) => {
                reachable = false;
                observer.error(spec.name);
                observer.lookup(spec.name, Lookup::Bypass);
            }
        }
    } else {
        observer.lookup(spec.name, Lookup::Bypass);
    }

    let resp = match run(handler).await.outcome {
        Outcome::Miss(resp)
            if reachable && *method == Method::GET && resp.status() == StatusCode::OK =>
        {
            resp
        }
        other => {
            return Cached {
                outcome: other,
                _r: PhantomData,
            };
        }
    };
    let (parts, body) = resp.into_parts();
    let bytes = match body.into_bytes().await {
        Ok(b) => b,
        // The body is gone; report the read failure as the response would have failed anyway.
        Err(e) => return Cached::error(poem::Error::from(e)),
    };
    if bytes.len() <= MAX_STORED_BODY_BYTES {
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let env = Envelope::new(200, content_type, 0, bytes.to_vec());
        if let Some(encoded) = env.encode() {
            // Errors are already logged (rate-limited) by the backend; a failed store is a MISS.
            match cache.backend.set(&key, &encoded, cache.ttl(spec.ttl)).await {
                Ok(()) => observer.stored(spec.name),
                Err(_) => observer.error(spec.name),
            }
        }
    }
    Cached::miss(Response::from_parts(parts, Body::from(bytes)))
}

/// Runs the handler and classifies its output without touching the cache.
async fn run<R, T, F>(handler: F) -> Cached<R>
where
    R: IntoResult<T>,
    T: IntoResponse,
    F: Future<Output = R>,
{
    match handler.await.into_result() {
        Ok(v) => Cached::miss(v.into_response()),
        Err(e) => Cached::error(e),
    }
}
