//! [`HubMiddleware`]: what every request goes through between poem's path normalization and
//! the routes, in one future.
//!
//! Why one middleware rather than one `around` layer per step: each layer nests the future of
//! the layers below it in its own, so a request's future is built and moved once per layer,
//! and seven small layers cost a near-cache HIT more than its key and lookup did
//! (docs/benchmarks.md, "The HIT path against a static server"). Each step stays a function
//! beside what it checks; this module only puts them in order.

use crate::app::{AllowedMethods, WriteGate, method_not_allowed};
use crate::caller::drop_untrusted_identity;
use crate::input_guard::{PathTemplates, nul_refusal};
use crate::metrics::Metrics;
use crate::state::AppState;
use hub_core::settings::AuthSettings;
use poem::http::uri::PathAndQuery;
use poem::http::{StatusCode, Uri};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
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
/// use hub_api::app::{AllowedMethods, WriteGate};
/// use hub_api::input_guard::PathTemplates;
/// use hub_api::middleware::HubMiddleware;
/// use poem::EndpointExt;
/// let writes = WriteGate::for_backend(state.db.get_database_backend());
/// let app = poem::Route::new().with(HubMiddleware {
///     keys: state.auth.clone(),
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
    /// state, not a copy per request), with its response cache.
    pub state: Arc<AppState>,
    /// The OpenAPI path templates, to name a path parameter holding a NUL byte.
    pub templates: PathTemplates,
    /// The API keys that decide whether identity headers are believed.
    pub keys: AuthSettings,
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
        drop_untrusted_identity(&steps.keys, &mut req);
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
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        PathAndQuery::from_str(&path_and_query)
            .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))?,
    );
    Uri::from_parts(parts)
        .map_err(|e| poem::Error::from_string(e.to_string(), StatusCode::BAD_REQUEST))
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
