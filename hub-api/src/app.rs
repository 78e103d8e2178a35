//! The poem application: routes, middleware and the OpenAPI document.

use crate::auth::RequireReadKey;
use crate::error::json_error;
use crate::metrics::{METRICS_PATH, Metrics, MetricsEndpoint, RouteTemplates, observe_requests};
use crate::routes;
use crate::state::AppState;
use hub_core::settings::HttpSettings;
use poem::endpoint::{DynEndpoint, ToDynEndpoint};
use poem::http::{HeaderValue, Method, header};
use poem::middleware::{NormalizePath, TrailingSlash};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::OpenApiService;
use std::sync::Arc;
use std::time::Instant;

/// Where the OpenAPI JSON is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";
/// Where the Swagger UI is served.
pub const DOCS_PATH: &str = "/api/docs";

/// The OpenAPI service of every route group.
pub fn openapi() -> OpenApiService<impl poem_openapi::OpenApi, ()> {
    OpenApiService::new(routes::all(), "hub: MeshCore Hub API", env!("CARGO_PKG_VERSION"))
        .description("Read API of a MeshCore mesh network: nodes, advertisements, messages, channels, dashboards and member profiles.")
}

/// Builds the whole application around `state`.
///
/// The app gets its own [`Metrics`] (served at `/metrics`): its observer is added to the
/// state's cache, so cache events of this app are counted in this app's registry (observers
/// the cache already had keep receiving them).
///
/// ```no_run
/// # async fn run(state: hub_api::state::AppState) -> std::io::Result<()> {
/// let app = hub_api::app::build(state);
/// poem::Server::new(poem::listener::TcpListener::bind("127.0.0.1:8000")).run(app).await
/// # }
/// ```
pub fn build(state: AppState) -> impl Endpoint<Output = Response> {
    build_with(state, HttpSettings::default())
}

/// [`build`] with the HTTP settings (`API_CACHE_CONTROL_ENABLED`).
pub fn build_with(mut state: AppState, http: HttpSettings) -> impl Endpoint<Output = Response> {
    let cache_control = http.cache_control();
    let api = openapi();
    let metrics = Arc::new(Metrics::new(
        state.cache.backend().clone(),
        route_templates(&api),
    ));
    state.cache = state.cache.with_observer(metrics.cache_observer());
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let keys = state.auth.clone();
    let keys_for_metrics = state.auth.clone();
    let cache = state.cache.clone();
    let route = Route::new()
        .nest("/", api.with(RequireReadKey(keys)))
        .at(OPENAPI_PATH, spec)
        .nest(DOCS_PATH, docs)
        .at(
            METRICS_PATH,
            MetricsEndpoint {
                metrics: metrics.clone(),
                keys: keys_for_metrics,
            },
        )
        .data(state.cache.clone())
        .data(state)
        .around(move |next, req| observe_requests(metrics.clone(), next, req))
        .with(NormalizePath::new(TrailingSlash::Trim))
        .catch_all_error(json_error)
        // Outside the error renderer, so error responses (422, 404, ...) get it too.
        .around(move |next, req| set_cache_control(next, req, cache_control))
        .around(log_request);
    let app: Arc<dyn DynEndpoint<Output = Response>> = Arc::new(ToDynEndpoint(route));
    cache.refresh_through(Arc::downgrade(&app));
    SharedApp(app)
}

/// The app behind an `Arc`, so that the response cache can send its background refreshes
/// (stale-while-revalidate) through the very same routes and middleware.
struct SharedApp(Arc<dyn DynEndpoint<Output = Response>>);

impl Endpoint for SharedApp {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        self.0.call(req).await
    }
}

/// The `route` label values of the request-duration histogram: every OpenAPI path, the
/// OpenAPI JSON, `/metrics`, and the Swagger UI as one route.
fn route_templates(api: &OpenApiService<impl poem_openapi::OpenApi, ()>) -> RouteTemplates {
    let spec: serde_json::Value =
        serde_json::from_str(&api.spec()).expect("the OpenAPI document is JSON");
    let mut exact: Vec<String> = spec["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default();
    exact.extend([OPENAPI_PATH.to_string(), METRICS_PATH.to_string()]);
    RouteTemplates::new(exact, vec![DOCS_PATH.to_string()])
}

/// The `Cache-Control` a response to `method` on `path` gets (docs/contract/cache-design.md section 4):
/// `no-store` on writes and `/health*` (probes must never see a stored answer),
/// `private, no-cache` on `/api/*` reads (they vary by role and may be invalidated
/// server-side, so clients revalidate with `If-None-Match`), nothing elsewhere.
pub fn cache_control_for(method: &Method, path: &str) -> Option<&'static str> {
    let read = *method == Method::GET || *method == Method::HEAD;
    if !read || path.starts_with("/health") {
        Some("no-store")
    } else if path == "/api" || path.starts_with("/api/") {
        Some("private, no-cache")
    } else {
        None
    }
}

/// Sets [`cache_control_for`] on every response (errors and 304s included) when `enabled`.
async fn set_cache_control<E: Endpoint>(
    next: E,
    req: Request,
    enabled: bool,
) -> poem::Result<Response> {
    let value = enabled
        .then(|| cache_control_for(req.method(), req.uri().path()))
        .flatten();
    let mut response = next.call(req).await?.into_response();
    if let Some(value) = value {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    Ok(response)
}

/// One structured line per request: DEBUG normally, WARN for server errors.
async fn log_request<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.call(req).await?.into_response();
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    if status >= 500 {
        tracing::warn!(%method, %path, status, micros, "request failed");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    Ok(response)
}
