//! [`HubMiddleware`]: what every request goes through between poem's path normalization and
//! the routes, in one future.
//!
//! Why one middleware rather than one `around` layer per step: each layer nests the future of
//! the layers below it in its own, so a request's future is built and moved once per layer,
//! and seven small layers cost a near-cache HIT more than its key and lookup did
//! (docs/benchmarks.md, "The HIT path against a static server"). Each step stays a function
//! beside what it checks; this module only puts them in order.

use crate::caller::drop_untrusted_identity;
use crate::error::detail_response;
use crate::input_guard::{PathTemplates, nul_refusal};
use crate::metrics::Metrics;
use crate::metrics::path_shape;
use crate::state::AppState;
use poem::http::uri::PathAndQuery;
use poem::http::{HeaderValue, Method, StatusCode, Uri, header};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

/// hub's steps around the routes, in this order:
///
/// 0. the path is normalized ([`normalized_path`]: no trailing slash, no repeated slash);
/// 1. the request's duration starts ([`Metrics::observed`] records it with the answer);
/// 2. a write waits for its turn ([`WriteGate::turn`]; SQLite has one writer);
/// 3. identity headers the caller's key does not vouch for are dropped
///    ([`drop_untrusted_identity`]), before any handler, cache key or write reads them;
/// 4. a NUL byte in a query or path parameter is refused with a 422 ([`nul_refusal`]);
/// 5. the [`AppState`] and its response cache go into the request's data;
/// 6. the routes answer, poem's bare 405 becoming the JSON one with `Allow`
///    ([`method_not_allowed`]).
///
/// ```no_run
/// # fn build(state: hub_api::state::AppState, metrics: std::sync::Arc<hub_api::metrics::Metrics>) {
/// use hub_api::input_guard::PathTemplates;
/// use hub_api::middleware::{AllowedMethods, HubMiddleware, WriteGate};
/// use poem::EndpointExt;
/// let writes = WriteGate::for_backend(state.db.get_database_backend());
/// let app = poem::Route::new().with(HubMiddleware {
///     state: state.into(),
///     templates: PathTemplates::new(["/api/v1/nodes".to_string()]),
///     allowed: AllowedMethods::default(),
///     writes: writes.into(),
///     metrics,
/// });
/// # }
/// ```
#[derive(Clone)]
pub struct HubMiddleware {
    /// Put into every request's data (handlers take `Data<&Arc<AppState>>`: one shared
    /// state, not a copy per request), with its response cache; its API keys decide whether
    /// identity headers are believed.
    pub state: Arc<AppState>,
    /// The OpenAPI path templates, to name a path parameter holding a NUL byte.
    pub templates: PathTemplates,
    /// The methods of each path, for the `Allow` header of a 405.
    pub allowed: AllowedMethods,
    /// One write at a time on SQLite.
    pub writes: Arc<WriteGate>,
    /// Where request durations are recorded.
    pub metrics: Arc<Metrics>,
}

impl<E: Endpoint> Middleware<E> for HubMiddleware {
    type Output = HubEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        HubEndpoint {
            inner,
            steps: self.clone(),
        }
    }
}

/// The routes `E` behind [`HubMiddleware`].
pub struct HubEndpoint<E> {
    inner: E,
    steps: HubMiddleware,
}

impl<E: Endpoint> Endpoint for HubEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if let Some(path) = normalized_path(req.uri().path()) {
            *req.uri_mut() = with_path(req.uri(), &path)?;
        }
        let started = Instant::now();
        let method = req.method().clone();
        let _turn = self.steps.writes.turn(&method).await;
        let outcome = self.route(req).await;
        Ok(self.steps.metrics.observed(&method, started, outcome).await)
    }
}

impl<E: Endpoint> HubEndpoint<E> {
    /// Steps 3 to 6: the answer of the routes, or the refusal that stands in for it.
    async fn route(&self, mut req: Request) -> poem::Result<Response> {
        let steps = &self.steps;
        drop_untrusted_identity(&steps.state.auth, &mut req);
        if let Some(refusal) = nul_refusal(&steps.templates, &req) {
            return Ok(refusal);
        }
        req.extensions_mut().insert(steps.state.cache.clone());
        req.extensions_mut().insert(Arc::clone(&steps.state));
        match self.inner.call(req).await {
            Ok(output) => Ok(output.into_response()),
            Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
                Ok(method_not_allowed(&steps.allowed, &err))
            }
            Err(err) => Err(err),
        }
    }
}

/// The methods each OpenAPI path answers, for the `Allow` header of a 405 (RFC 9110 section
/// 15.5.6 requires it).
#[derive(Debug, Default, Clone)]
pub struct AllowedMethods {
    /// Path shape (parameters as `{}`, see [`path_shape`]) -> `Allow` value.
    by_shape: HashMap<String, String>,
}

impl AllowedMethods {
    /// The methods of every path of the OpenAPI document `spec`; HEAD wherever GET is, since poem
    /// answers HEAD with the GET handler.
    pub fn of(spec: &serde_json::Value) -> Self {
        let mut by_shape = HashMap::new();
        for (path, operations) in spec["paths"].as_object().into_iter().flatten() {
            let mut methods: Vec<String> = operations
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, _)| method.to_ascii_uppercase())
                .collect();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".into());
            }
            by_shape.insert(path_shape(path).into_owned(), methods.join(", "));
        }
        AllowedMethods { by_shape }
    }

    /// The `Allow` value for a matched path pattern (poem's `:name` or OpenAPI's `{name}`).
    pub fn allow(&self, pattern: &str) -> Option<&str> {
        self.by_shape.get(&*path_shape(pattern)).map(String::as_str)
    }
}

/// The JSON 405 with `Allow` listing the methods of the path poem matched, for poem's bare
/// 405 error `err` (a step of [`HubMiddleware`]).
pub fn method_not_allowed(allowed: &AllowedMethods, err: &poem::Error) -> Response {
    let allow = err
        .data::<PathPattern>()
        .and_then(|pattern| allowed.allow(&pattern.0))
        .and_then(|allow| HeaderValue::from_str(allow).ok());
    let mut response = detail_response(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// Runs this process's writes one at a time on SQLite.
///
/// SQLite has one writer per database. Two write transactions of this process that overlap
/// fail with `database is locked` (SQLITE_BUSY, or SQLITE_BUSY_SNAPSHOT when a transaction
/// that read first tries to write, which no busy timeout waits out), so two concurrent
/// writes would turn into a 500 for one of them. Waiting for the previous write costs little:
/// SQLite would have serialized them anyway. PostgreSQL needs no gate.
#[derive(Debug)]
pub struct WriteGate(Option<tokio::sync::Mutex<()>>);

impl WriteGate {
    /// A gate for `backend`: closed on SQLite, absent elsewhere.
    pub fn for_backend(backend: sea_orm::DbBackend) -> Self {
        WriteGate((backend == sea_orm::DbBackend::Sqlite).then(|| tokio::sync::Mutex::new(())))
    }

    /// Waits for this request's turn when it is a write (not GET or HEAD) and the gate is
    /// closed; the turn lasts as long as the guard (a step of [`HubMiddleware`]).
    pub async fn turn(&self, method: &Method) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let write = !matches!(*method, Method::GET | Method::HEAD);
        match &self.0 {
            Some(lock) if write => Some(lock.lock().await),
            _ => None,
        }
    }
}

/// The path with trailing slashes trimmed and repeated slashes merged (`/` when nothing is
/// left), as poem's `NormalizePath::new(TrailingSlash::Trim)` makes it; `None` when the path
/// is already so, which is every request of a well-behaved client. Why not poem's
/// middleware: it runs a regular expression and copies the path on every request.
///
/// ```
/// use hub_api::middleware::normalized_path;
/// assert_eq!(normalized_path("/api/v1/nodes"), None);
/// assert_eq!(normalized_path("/api/v1/nodes/").as_deref(), Some("/api/v1/nodes"));
/// assert_eq!(normalized_path("//api///v1/nodes//").as_deref(), Some("/api/v1/nodes"));
/// assert_eq!(normalized_path("///").as_deref(), Some("/"));
/// ```
pub fn normalized_path(path: &str) -> Option<String> {
    if !path.ends_with('/') && !path.contains("//") {
        return None;
    }
    let mut normal = String::with_capacity(path.len());
    for c in path.trim_end_matches('/').chars() {
        if !(c == '/' && normal.ends_with('/')) {
            normal.push(c);
        }
    }
    if normal.is_empty() {
        normal.push('/');
    }
    (normal != path).then_some(normal)
}

/// `uri` with its path replaced by `path` (query kept).
fn with_path(uri: &Uri, path: &str) -> poem::Result<Uri> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let bad_request = |e: &dyn std::fmt::Display| {
        poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST)
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query =
        Some(PathAndQuery::from_str(&path_and_query).map_err(|e| bad_request(&e))?);
    Uri::from_parts(parts).map_err(|e| bad_request(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::EndpointExt;
    use poem::middleware::{NormalizePath, TrailingSlash};

    /// The path and query poem's `NormalizePath` (trimming) hands on for `uri`.
    async fn poem_normalized(uri: &str) -> String {
        let ep = poem::endpoint::make_sync(|req: Request| req.uri().to_string())
            .with(NormalizePath::new(TrailingSlash::Trim));
        let req = Request::builder().uri_str(uri).finish();
        let body = ep.get_response(req).await.into_body();
        body.into_string().await.unwrap()
    }

    #[tokio::test]
    async fn paths_are_normalized_as_poem_normalizes_them() {
        for uri in [
            "/",
            "//",
            "///",
            "/api",
            "/api/",
            "/api/v1//nodes",
            "//api//v1///nodes//",
            "/api/v1/nodes/?limit=5&search=a//b",
            "/api/v1/nodes?limit=5",
            "/api/docs/",
        ] {
            let req = Request::builder().uri_str(uri).finish();
            let ours = match normalized_path(req.uri().path()) {
                Some(path) => with_path(req.uri(), &path).unwrap().to_string(),
                None => req.uri().to_string(),
            };
            assert_eq!(ours, poem_normalized(uri).await, "{uri}");
        }
    }
}
