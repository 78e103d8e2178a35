//! The poem application: routes, middleware and the OpenAPI document.

use crate::auth::RequireReadKey;
use crate::error::json_error;
use crate::input_guard::PathTemplates;
use crate::metrics::{METRICS_PATH, Metrics, MetricsEndpoint, RouteTemplates};
use crate::middleware::{AllowedMethods, HubMiddleware, WriteGate};
use crate::network_metrics::NetworkMetrics;
use crate::routes;
use crate::state::AppState;
use hub_core::settings::{CorsSettings, HttpSettings};
use poem::endpoint::{DynEndpoint, ToDynEndpoint};
use poem::http::{HeaderValue, Method, header};
use poem::middleware::Cors;
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

/// A regular expression for strings without a NUL character, as schemathesis and other
/// JSON Schema tools read `pattern`.
pub const NO_NUL_PATTERN: &str = "^[^\\x00]*$";

/// The OpenAPI document as served at [`OPENAPI_PATH`]: poem-openapi's, with every free-text
/// string (without `format`, `pattern` or `enum`) of a parameter, or anywhere in a request
/// body's schema, declaring [`NO_NUL_PATTERN`].
///
/// Why a transform rather than a `validator(pattern)` on each parameter: the rule is enforced once
/// for every query and path parameter by [`crate::input_guard::nul_refusal`] (a 422 naming the
/// parameter, before any handler runs), so stating it once here keeps the document and that one
/// check in step, and a parameter added later cannot forget it. poem-openapi has no document-wide
/// way to say it. Bodies are refused alike by [`crate::body::JsonBody::object`] (a NUL in any
/// string at any depth); their schemas are marked unless a response shares them, since a stored
/// text may hold a NUL on SQLite and an answer must not contradict its schema.
pub fn openapi_document(mut spec: serde_json::Value) -> String {
    for name in request_only_schemas(&spec) {
        if let Some(schema) = spec["components"]["schemas"].get_mut(&name) {
            mark_free_text(schema);
        }
    }
    let operations = spec["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|operations| operations.values_mut());
    for operation in operations {
        let parameters = operation
            .get_mut("parameters")
            .and_then(serde_json::Value::as_array_mut);
        for parameter in parameters.into_iter().flatten() {
            let schema = &mut parameter["schema"];
            let text = if schema["type"] == "array" {
                &mut schema["items"]
            } else {
                schema
            };
            if is_free_text(text) {
                text["pattern"] = NO_NUL_PATTERN.into();
            }
        }
    }
    spec.to_string()
}

/// Whether `schema` is a string the document leaves free (no `format`, `pattern`, `enum`).
fn is_free_text(schema: &serde_json::Value) -> bool {
    schema["type"] == "string"
        && ["format", "pattern", "enum", "$ref"]
            .iter()
            .all(|k| schema.get(k).is_none())
}

/// Gives every free-text string inside `schema` (properties, items, alternatives) the
/// [`NO_NUL_PATTERN`].
fn mark_free_text(schema: &mut serde_json::Value) {
    if is_free_text(schema) {
        schema["pattern"] = NO_NUL_PATTERN.into();
    }
    match schema {
        serde_json::Value::Object(map) => map.values_mut().for_each(mark_free_text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(mark_free_text),
        _ => {}
    }
}

/// The component schemas reachable from a request body and from no response.
fn request_only_schemas(spec: &serde_json::Value) -> Vec<String> {
    let operations: Vec<&serde_json::Value> = spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(serde_json::Value::as_object)
        .flat_map(|operations| operations.values())
        .collect();
    let bodies = reachable_schemas(spec, operations.iter().map(|o| &o["requestBody"]));
    let answers = reachable_schemas(spec, operations.iter().map(|o| &o["responses"]));
    bodies.difference(&answers).cloned().collect()
}

/// The names of the component schemas that `roots` refer to, directly or through other
/// component schemas.
fn reachable_schemas<'a>(
    spec: &serde_json::Value,
    roots: impl Iterator<Item = &'a serde_json::Value>,
) -> std::collections::BTreeSet<String> {
    const PREFIX: &str = "#/components/schemas/";
    let mut found = std::collections::BTreeSet::new();
    let mut pending: Vec<&serde_json::Value> = roots.collect();
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(serde_json::Value::as_str)
                    .and_then(|r| r.strip_prefix(PREFIX))
                    && found.insert(name.to_string())
                {
                    pending.push(&spec["components"]["schemas"][name]);
                }
                pending.extend(map.values());
            }
            serde_json::Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    found
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
    // Parsed once: the metrics' route labels, the NUL guard, the 405 `Allow` values and the
    // served document all read it.
    let document: serde_json::Value =
        serde_json::from_str(&api.spec()).expect("the OpenAPI document is JSON");
    let metrics = Arc::new(Metrics::new(
        state.cache.backend().clone(),
        route_templates(&document),
    ));
    state.cache = state.cache.with_observer(metrics.cache_observer());
    let templates = PathTemplates::new(openapi_paths(&document));
    let allowed = AllowedMethods::of(&document);
    let document = openapi_document(document);
    let spec = poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    });
    let docs = api.swagger_ui();
    let keys = state.auth.clone();
    let feeds_enabled = state.feeds.feature_feeds;
    let keys_for_metrics = state.auth.clone();
    let writes = Arc::new(WriteGate::for_backend(state.db.get_database_backend()));
    let cache = state.cache.clone();
    // The read key first: a feed answers 401 before saying feeds are off.
    let api = api
        .around(move |next, req| routes::feeds::when_enabled(feeds_enabled, next, req))
        .with(RequireReadKey(keys));
    let mut others = Route::new().at(OPENAPI_PATH, spec).nest(DOCS_PATH, docs);
    if http.metrics.metrics_enabled {
        let network = NetworkMetrics::new(state.db.clone(), http.metrics.cache_ttl());
        others = others.at(
            METRICS_PATH,
            MetricsEndpoint {
                metrics: metrics.clone(),
                network: Arc::new(network),
                keys: keys_for_metrics,
                public: http.metrics.metrics_public,
            },
        );
    }
    let route = ApiBesideOthers { api, others }
        .with(HubMiddleware {
            state: Arc::new(state),
            templates,
            allowed,
            writes,
            metrics,
        })
        // Inside the error renderer, so a refused origin's error is JSON too.
        .with(cors(&http.cors))
        .catch_all_error(json_error)
        // Outside the error renderer, so error responses (422, 404, ...) get it too.
        .around(move |next, req| finish_response(next, req, cache_control));
    let app: Arc<dyn DynEndpoint<Output = Response>> = Arc::new(ToDynEndpoint(route));
    cache.refresh_through(Arc::downgrade(&app));
    SharedApp(app)
}

/// The CORS middleware of `CORS_ORIGINS`, configured as MeshCore Hub configures it: the
/// listed origins with credentials, or (unset) every origin without credentials; any method
/// and header.
pub fn cors(settings: &CorsSettings) -> Cors {
    match settings.origins() {
        Some(origins) => Cors::new().allow_origins(origins).allow_credentials(true),
        None => Cors::new().allow_credentials(false),
    }
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
fn route_templates(document: &serde_json::Value) -> RouteTemplates {
    let mut exact = openapi_paths(document);
    exact.extend([OPENAPI_PATH.to_string(), METRICS_PATH.to_string()]);
    RouteTemplates::new(exact, vec![DOCS_PATH.to_string()])
}

/// The path templates of the OpenAPI document (`/api/v1/nodes/{public_key}`, ...).
fn openapi_paths(document: &serde_json::Value) -> Vec<String> {
    document["paths"]
        .as_object()
        .map(|paths| paths.keys().cloned().collect())
        .unwrap_or_default()
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

/// The last step of every request: sets [`cache_control_for`] on every response (errors and
/// 304s included) when `cache_control` is enabled, except a read's answer that carries its own
/// (a public feed's `public, max-age=...`), removes any `Cache-Control` when it is not; then
/// logs one structured line, DEBUG normally and WARN for server errors.
async fn finish_response<E: Endpoint>(
    next: E,
    req: Request,
    cache_control: bool,
) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    // A clone of the URI shares its buffer: no copy of the path per request.
    let uri = req.uri().clone();
    let read = matches!(method, Method::GET | Method::HEAD);
    let value = cache_control
        .then(|| cache_control_for(&method, uri.path()))
        .flatten();
    let mut response = next.call(req).await?.into_response();
    let headers = response.headers_mut();
    match value {
        Some(_) if read && headers.contains_key(header::CACHE_CONTROL) => {}
        Some(value) => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
        }
        None if !cache_control => {
            headers.remove(header::CACHE_CONTROL);
        }
        None => {}
    }
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    let path = uri.path();
    if status >= 500 {
        tracing::warn!(%method, %path, status, micros, "request failed");
    } else {
        tracing::debug!(%method, %path, status, micros, "request");
    }
    Ok(response)
}

/// The API's routes beside the few paths outside it (the OpenAPI JSON, the Swagger UI and
/// `/metrics`, in `others`): a request goes to `api` unless its path is one of those. Why
/// not a [`Route`] nesting the API at `/`: the API is a router already, and a second one in
/// front of it would rebuild every request's URI and path pattern.
struct ApiBesideOthers<A, O> {
    api: A,
    others: O,
}

impl<A: Endpoint, O: Endpoint> Endpoint for ApiBesideOthers<A, O> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path();
        let other = path == OPENAPI_PATH
            || path == METRICS_PATH
            || path
                .strip_prefix(DOCS_PATH)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if other {
            self.others.call(req).await.map(IntoResponse::into_response)
        } else {
            self.api.call(req).await.map(IntoResponse::into_response)
        }
    }
}
