//! `--mode static`: the ceiling a near-cache HIT can approach.
//!
//! A bare poem server that answers every request with the exact status, headers and body
//! of a near-cache HIT of the endpoint, held in memory: no routing, middleware, key, lookup or
//! metric. The answer is fetched from the real app first (with the near cache of
//! `--mode near-hit`), then served on the same runtime and measured by the same clients as
//! every other row, so `near-hit / static` in one run is what the HIT path costs on top of
//! writing its bytes.

use std::time::Duration;

use hub_api::state::AppState;
use hub_core::cache::runtime::ResponseCache;
use poem::http::header::CONTENT_LENGTH;
use poem::http::{HeaderMap, StatusCode};
use poem::{Body, Endpoint, Request, Response};

use super::{Args, Outcome, measure_server, with_state};

/// Requests sent to the real app before its answer must be a near-cache HIT: the first
/// stores the entry, the next fills the near cache, and one after that is served from it.
const ATTEMPTS: usize = 20;

/// Pause between attempts, for the spawned store and the near cache's fill to land.
const PAUSE: Duration = Duration::from_millis(50);

/// One row: fetches the near HIT of `endpoint` from the real app over `cache` (a near-cache
/// [`ResponseCache`]), then measures a [`StaticAnswer`] serving it.
pub(crate) async fn measure(
    args: &Args,
    url: &str,
    endpoint: &str,
    cache: ResponseCache,
) -> Result<Outcome, String> {
    let answer = with_state(url, cache, async |state| near_hit(state, endpoint).await).await?;
    match answer? {
        Some(answer) => measure_server(args, endpoint, answer).await,
        None => Ok(Outcome::NotServed),
    }
}

/// The real app's near-cache HIT of `endpoint`, requested in process until one comes (the
/// first answer of an operation that is not cached); `None` when the app answers 404.
async fn near_hit(state: AppState, endpoint: &str) -> Result<Option<StaticAnswer>, String> {
    let backend = state.cache.backend().clone();
    let app = hub_api::app::build(state);
    let uri: poem::http::Uri = endpoint.parse().map_err(|e| format!("{endpoint}: {e}"))?;
    for _ in 0..ATTEMPTS {
        let near_hits = || backend.near_counts().map_or(0, |c| c.hits);
        let before = near_hits();
        let response = app
            .get_response(Request::builder().uri(uri.clone()).finish())
            .await;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("GET {endpoint}: HTTP {status}"));
        }
        let x_cache = response.headers().get(hub_core::cache::runtime::X_CACHE);
        // An operation that is not cached (no `X-Cache`) has no HIT to wait for: its answer
        // as it is stands in.
        let near_hit = x_cache.is_some_and(|v| v.as_bytes() == b"HIT") && near_hits() > before;
        if near_hit || x_cache.is_none() {
            let (parts, body) = response.into_parts();
            let body = body
                .into_bytes()
                .await
                .map_err(|e| format!("GET {endpoint}: {e}"))?;
            let mut headers = parts.headers;
            // The server writes its own, as it does for the real app's answers.
            headers.remove(CONTENT_LENGTH);
            return Ok(Some(StaticAnswer {
                status,
                headers,
                body,
            }));
        }
        tokio::time::sleep(PAUSE).await;
    }
    Err(format!(
        "GET {endpoint}: no near-cache HIT after {ATTEMPTS} requests (is it a cached operation?)"
    ))
}

/// A response held in memory, sent as it is to every request.
pub(crate) struct StaticAnswer {
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl Endpoint for StaticAnswer {
    type Output = Response;

    async fn call(&self, _req: Request) -> poem::Result<Response> {
        let mut response = Response::builder()
            .status(self.status)
            .body(Body::from(self.body.clone()));
        *response.headers_mut() = self.headers.clone();
        Ok(response)
    }
}
