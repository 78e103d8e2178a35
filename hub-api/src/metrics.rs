//! `GET /metrics`: Prometheus text exposition of cache and HTTP metrics (docs/metrics.md),
//! followed by the network series of [`crate::network_metrics`].
//!
//! Every app built by [`crate::app::build`] owns one [`Metrics`] with its own
//! [`prometheus::Registry`] (never the process-wide default one), so several apps in one
//! process (the integration tests) never share counters.
//!
//! - Cache events reach the counters through [`CacheObserver`], installed on the app's
//!   [`ResponseCache`](hub_core::cache::runtime::ResponseCache) by [`crate::app::build`].
//! - The circuit breaker's state and the near cache's counters are read from the backend
//!   at scrape time.
//! - Request durations are observed by [`Metrics::observed`], a step of
//!   [`crate::middleware::HubMiddleware`].

use crate::error::{ApiError, detail_response, json_error};
use crate::network_metrics::NetworkMetrics;
use hub_core::cache::observer::{CacheObserver, Lookup};
use hub_core::cache::{BreakerState, CacheBackend};
use hub_core::settings::AuthSettings;
use poem::PathPattern;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::headers::authorization::Basic;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem::{Endpoint, Request, Response};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";
/// The Basic-auth user name `/metrics` expects when a key is configured.
pub const METRICS_USER: &str = "metrics";

/// Histogram buckets in seconds: cache HITs answer well under a millisecond.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metrics of one app instance.
pub struct Metrics {
    registry: Registry,
    routes: RouteTemplates,
    cache: CacheCounters,
    http_duration: HistogramVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry holding every hub metric; the breaker gauge reads `backend`, and
    /// `route` labels are taken from `routes`.
    pub fn new(backend: Arc<dyn CacheBackend>, routes: RouteTemplates) -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(vec.clone()))
                .expect("metric registered once");
            vec
        };
        let cache = CacheCounters {
            requests: counter(
                "hub_cache_requests_total",
                "Requests of cached operations, by cache name and result (hit, miss, bypass).",
                &["cache", "result"],
            ),
            stores: counter(
                "hub_cache_stores_total",
                "Responses stored in the cache.",
                &["cache"],
            ),
            errors: counter(
                "hub_cache_errors_total",
                "Failed cache backend calls (timeout, connection error, open circuit).",
                &["cache"],
            ),
            coalesced: counter(
                "hub_cache_coalesced_total",
                "Requests that awaited a concurrent identical request instead of running the handler.",
                &["cache"],
            ),
            invalidations: counter(
                "hub_cache_invalidations_total",
                "Invalidation generation bumps by writes, by cache name.",
                &["cache"],
            ),
        };
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "hub_http_request_duration_seconds",
                "HTTP request duration, by route template, method, status code and X-Cache result.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["route", "method", "status", "cache"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("metric registered once");
        registry
            .register(Box::new(BreakerCollector::new(Arc::clone(&backend))))
            .expect("metric registered once");
        registry
            .register(Box::new(NearCacheCollector::new(backend)))
            .expect("metric registered once");
        Metrics {
            registry,
            routes,
            cache,
            http_duration,
        }
    }

    /// The observer that feeds the cache counters, for [`ResponseCache::with_observer`].
    ///
    /// [`ResponseCache::with_observer`]: hub_core::cache::runtime::ResponseCache::with_observer
    pub fn cache_observer(&self) -> Arc<dyn CacheObserver> {
        Arc::new(self.cache.clone())
    }

    /// The `route` label for a matched pattern (see [`RouteTemplates`]).
    pub fn route_label(&self, pattern: Option<&PathPattern>) -> &str {
        self.routes.label(pattern)
    }

    /// Records one request.
    pub fn observe_request(
        &self,
        route: &str,
        method: &Method,
        status: StatusCode,
        cache: &str,
        seconds: f64,
    ) {
        self.http_duration
            .with_label_values(&[route, method_label(method), status.as_str(), cache])
            .observe(seconds);
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        self.render_with(&[])
    }

    /// hub's series followed by `more` (the network series), in the text format.
    pub fn render_with(&self, more: &[MetricFamily]) -> String {
        let mut families = self.registry.gather();
        families.extend_from_slice(more);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&families, &mut out)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Observes one request's `outcome` in `hub_http_request_duration_seconds` and returns
    /// the response the client gets (a step of [`crate::middleware::HubMiddleware`]).
    ///
    /// It runs inside the app's error catcher so it can read the matched route, which poem
    /// puts on the response or the error; errors are turned into their JSON responses here
    /// (the same [`json_error`] the app uses) so the recorded status is the one the client
    /// gets.
    pub async fn observed(
        &self,
        method: &Method,
        started: Instant,
        outcome: poem::Result<Response>,
    ) -> Response {
        let (response, route) = match outcome {
            Ok(response) => {
                let route = self.route_label(response.data::<PathPattern>());
                (response, route)
            }
            Err(err) => {
                let route = self.route_label(err.data::<PathPattern>());
                (json_error(err).await, route)
            }
        };
        self.observe_request(
            route,
            method,
            response.status(),
            cache_label(&response),
            started.elapsed().as_secs_f64(),
        );
        response
    }
}

/// The cache counters; cloning shares them (prometheus vectors are reference-counted).
#[derive(Clone)]
struct CacheCounters {
    requests: IntCounterVec,
    stores: IntCounterVec,
    errors: IntCounterVec,
    coalesced: IntCounterVec,
    invalidations: IntCounterVec,
}

impl CacheObserver for CacheCounters {
    fn lookup(&self, name: &'static str, outcome: Lookup) {
        self.requests
            .with_label_values(&[name, outcome.as_str()])
            .inc();
    }

    fn stored(&self, name: &'static str) {
        self.stores.with_label_values(&[name]).inc();
    }

    fn error(&self, name: &'static str) {
        self.errors.with_label_values(&[name]).inc();
    }

    fn coalesced(&self, name: &'static str) {
        self.coalesced.with_label_values(&[name]).inc();
    }

    fn invalidated(&self, name: &'static str) {
        self.invalidations.with_label_values(&[name]).inc();
    }
}

/// `hub_cache_breaker_state`, read from the backend at each scrape; absent when the backend
/// has no circuit breaker (the null cache).
struct BreakerCollector {
    backend: Arc<dyn CacheBackend>,
    gauge: IntGauge,
}

impl BreakerCollector {
    fn new(backend: Arc<dyn CacheBackend>) -> Self {
        let gauge = IntGauge::new(
            "hub_cache_breaker_state",
            "Circuit breaker of the Redis cache: 0 closed, 1 half-open, 2 open.",
        )
        .expect("valid metric");
        BreakerCollector { backend, gauge }
    }
}

/// The gauge value of a breaker state.
pub fn breaker_value(state: BreakerState) -> i64 {
    match state {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

impl Collector for BreakerCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        match self.backend.breaker_state() {
            Some(state) => {
                self.gauge.set(breaker_value(state));
                self.gauge.collect()
            }
            None => Vec::new(),
        }
    }
}

/// The near cache's counters (`hub_near_cache_*_total`), read from the backend at each scrape;
/// absent when the near cache is off.
struct NearCacheCollector {
    backend: Arc<dyn CacheBackend>,
    hits: IntCounter,
    misses: IntCounter,
    evictions: IntCounter,
    invalidations: IntCounter,
}

impl NearCacheCollector {
    fn new(backend: Arc<dyn CacheBackend>) -> Self {
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        NearCacheCollector {
            backend,
            hits: counter(
                "hub_near_cache_hits_total",
                "Cache lookups answered from the in-process near cache, without Redis.",
            ),
            misses: counter(
                "hub_near_cache_misses_total",
                "Cache lookups the near cache could not answer (they went to Redis).",
            ),
            evictions: counter(
                "hub_near_cache_evictions_total",
                "Values dropped from the near cache to stay within CACHE_LOCAL_MAX_MB.",
            ),
            invalidations: counter(
                "hub_near_cache_invalidations_total",
                "Values dropped from the near cache because Redis invalidated them or \
                 tracking was lost.",
            ),
        }
    }

    fn counters(&self) -> [&IntCounter; 4] {
        [
            &self.hits,
            &self.misses,
            &self.evictions,
            &self.invalidations,
        ]
    }
}

impl Collector for NearCacheCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.counters().into_iter().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(counts) = self.backend.near_counts() else {
            return Vec::new();
        };
        let values = [
            counts.hits,
            counts.misses,
            counts.evictions,
            counts.invalidations,
        ];
        self.counters()
            .into_iter()
            .zip(values)
            .flat_map(|(counter, value)| {
                // The backend owns the running totals; the counter only carries them out.
                counter.reset();
                counter.inc_by(value);
                counter.collect()
            })
            .collect()
    }
}

/// Standard methods by name; anything else is `other`, so clients cannot add label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route templates `route` labels may take, so their number stays bounded.
///
/// poem reports the matched pattern with its own parameter names (`/api/v1/nodes/{param0}`
/// for poem-openapi operations, `:name` for plain routes); a pattern is mapped to the
/// template of the same shape, e.g. the OpenAPI path `/api/v1/nodes/{public_key}`.
/// Patterns of no known template (an unknown path only matched a catch-all) are `other`.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates {
    /// Shape (parameters as `{}`) -> template.
    exact: HashMap<String, String>,
    /// Templates that also stand for everything under them (nested UIs).
    prefixes: Vec<String>,
}

impl RouteTemplates {
    /// `exact` templates (`{name}` or `:name` parameters) and `prefixes` whose whole subtree
    /// is reported as the prefix itself.
    pub fn new<S: AsRef<str>>(
        exact: impl IntoIterator<Item = S>,
        prefixes: impl IntoIterator<Item = S>,
    ) -> Self {
        let exact = exact
            .into_iter()
            .map(|t| {
                let t = trim(t.as_ref()).to_string();
                (path_shape(&t).into_owned(), braces(&t))
            })
            .collect();
        let prefixes = prefixes
            .into_iter()
            .map(|p| trim(p.as_ref()).to_string())
            .collect();
        RouteTemplates { exact, prefixes }
    }

    /// The `route` label of a response whose matched pattern is `pattern`.
    pub fn label(&self, pattern: Option<&PathPattern>) -> &str {
        let Some(pattern) = pattern else {
            return "other";
        };
        let pattern = trim(&pattern.0);
        if let Some(template) = self.exact.get(&*path_shape(pattern)) {
            return template;
        }
        self.prefixes
            .iter()
            .find(|p| {
                pattern
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map_or("other", String::as_str)
    }
}

fn trim(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

fn is_param(segment: &str) -> bool {
    segment.starts_with(':') || (segment.starts_with('{') && segment.ends_with('}'))
}

/// `/a/{x}/b` and `/a/:y/b` both become `/a/{}/b`: a path template's shape, whatever the
/// parameter syntax (poem reports `:name`, OpenAPI writes `{name}`).
///
/// Borrowed when `path` has no parameter (every request of a plain route asks for its shape).
pub fn path_shape(path: &str) -> Cow<'_, str> {
    if !path.split('/').any(is_param) {
        return Cow::Borrowed(path);
    }
    path.split('/')
        .map(|s| if is_param(s) { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
        .into()
}

/// `:name` parameters written as `{name}`, as OpenAPI does.
fn braces(path: &str) -> String {
    path.split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `cache` label: `X-Cache` lowercased (`hit`, `miss`), `none` without the header.
fn cache_label(response: &Response) -> &'static str {
    match response.headers().get("x-cache").map(HeaderValue::as_bytes) {
        None => "none",
        Some(v) if v.eq_ignore_ascii_case(b"hit") => "hit",
        Some(v) if v.eq_ignore_ascii_case(b"miss") => "miss",
        Some(_) => "other",
    }
}

/// The `/metrics` endpoint: the text format, behind HTTP Basic auth when a read key is set.
pub struct MetricsEndpoint {
    /// hub's own series (`hub_*`).
    pub metrics: Arc<Metrics>,
    /// The network series (`meshcore_*`), read from the database.
    pub network: Arc<NetworkMetrics>,
    /// The API keys: the read key is the Basic-auth password.
    pub keys: AuthSettings,
    /// METRICS_PUBLIC: with no read key configured, serve without authentication.
    pub public: bool,
}

impl MetricsEndpoint {
    /// `Err` holds the `detail` of the 401.
    ///
    /// As in MeshCore Hub: user `metrics` with the read key as password, and only the read
    /// key: a scraper never needs, so never gets to use, the admin key. With no read key,
    /// open only when METRICS_PUBLIC says so.
    fn authorize(&self, req: &Request) -> Result<(), &'static str> {
        let credentials = req.headers().typed_get::<Authorization<Basic>>();
        let Some(read_key) = self.keys.read_key.as_deref() else {
            return if self.public { Ok(()) } else { Err(NOT_PUBLIC) };
        };
        let Some(Authorization(basic)) = credentials else {
            return Err("Authentication required");
        };
        let user_ok: bool = basic
            .username()
            .as_bytes()
            .ct_eq(METRICS_USER.as_bytes())
            .into();
        // Both checks always run, so timing does not tell which part was wrong.
        let key_ok: bool = basic
            .password()
            .as_bytes()
            .ct_eq(read_key.as_bytes())
            .into();
        if user_ok & key_ok {
            Ok(())
        } else {
            Err("Invalid credentials")
        }
    }
}

/// The 401 detail when no read key is configured and METRICS_PUBLIC is off.
pub const NOT_PUBLIC: &str =
    "Metrics require API_READ_KEY (Basic auth, user metrics) or METRICS_PUBLIC=true";

fn unauthorized(text: &str) -> Response {
    let mut response = detail_response(StatusCode::UNAUTHORIZED, text);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"metrics\""),
    );
    response
}

impl Endpoint for MetricsEndpoint {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let mut response = match self.authorize(&req) {
            Ok(()) => {
                let network = self.network.families().await.map_err(ApiError::from)?;
                Response::builder()
                    .content_type(TextEncoder::new().format_type())
                    .body(self.metrics.render_with(&network))
            }
            Err(detail) => unauthorized(detail),
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_known_templates_or_other() {
        let routes = RouteTemplates::new(
            [
                "/api/v1/nodes",
                "/api/v1/nodes/{public_key}",
                "/api/v1/nodes/prefix/{prefix}",
                "/metrics",
                "/user/:id",
            ],
            ["/api/docs"],
        );
        let label = |s: &str| routes.label(Some(&PathPattern(s.into())));
        assert_eq!(
            label("/api/v1/nodes/{param0}"),
            "/api/v1/nodes/{public_key}"
        );
        assert_eq!(label("/api/v1/nodes/:x"), "/api/v1/nodes/{public_key}");
        assert_eq!(
            label("/api/v1/nodes/prefix/{param0}"),
            "/api/v1/nodes/prefix/{prefix}"
        );
        assert_eq!(label("/api/v1/nodes/"), "/api/v1/nodes");
        assert_eq!(label("/user/{param0}"), "/user/{id}");
        assert_eq!(label("/metrics"), "/metrics");
        assert_eq!(label("/api/docs"), "/api/docs");
        assert_eq!(label("/api/docs/oauth-receiver.html"), "/api/docs");
        assert_eq!(label("/api/docsx"), "other");
        // The catch-all nest an unknown path falls into.
        assert_eq!(label("/"), "other");
        assert_eq!(label("/api/v1/nodes/{param0}/x"), "other");
        assert_eq!(routes.label(None), "other");
    }

    #[test]
    fn observer_events_reach_the_registry() {
        let metrics = Metrics::new(
            Arc::new(hub_core::cache::NullCache),
            RouteTemplates::default(),
        );
        let observer = metrics.cache_observer();
        observer.coalesced("nodes");
        observer.coalesced("nodes");
        observer.error("channels");
        observer.stored("nodes");
        observer.lookup("nodes", Lookup::Hit);
        observer.invalidated("dashboard");
        let text = metrics.render();
        for line in [
            "hub_cache_coalesced_total{cache=\"nodes\"} 2",
            "hub_cache_errors_total{cache=\"channels\"} 1",
            "hub_cache_stores_total{cache=\"nodes\"} 1",
            "hub_cache_requests_total{cache=\"nodes\",result=\"hit\"} 1",
            "hub_cache_invalidations_total{cache=\"dashboard\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        // The null cache has no breaker, so no gauge.
        assert!(!text.contains("hub_cache_breaker_state"), "{text}");
    }

    #[test]
    fn breaker_values() {
        assert_eq!(breaker_value(BreakerState::Closed), 0);
        assert_eq!(breaker_value(BreakerState::HalfOpen), 1);
        assert_eq!(breaker_value(BreakerState::Open), 2);
    }

    #[test]
    fn odd_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
