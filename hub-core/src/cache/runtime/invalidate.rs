//! [`invalidating`]: a write, then the generations of the tables it changes; and
//! [`ResponseCache::tables_changed`], which any change of a table goes through.

use std::future::Future;
use std::marker::PhantomData;

use poem::error::IntoResult;
use poem::{IntoResponse, Request, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaResponses, Registry};

use super::{InvalidateSpec, ResponseCache};
use crate::cache::observer::CacheObserver;
use crate::tables::Table;

/// Return type of a write handler marked `#[invalidates(...)]`: the handler's response (or
/// error), after the invalidation ran.
///
/// Its [`ApiResponse`] metadata is exactly `R`'s (a write gets no cache headers), so the
/// OpenAPI document does not change. Like [`Cached`](super::Cached), it implements
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

/// Runs a write handler, then, if it answered 2xx, bumps the generations of `spec.changes` in
/// one round trip (what `#[invalidates(...)]` expands to).
///
/// The handler returns after its transaction committed, so every read that starts after the
/// bump sees the new generations and recomputes from committed data. Invalidation never fails
/// or changes the response: with the cache absent or disabled it is skipped; a backend error
/// (Redis down, timeout, open circuit) is logged by the backend, counted as a cache error, and
/// the response is returned unchanged; entries that read those tables may then be served
/// until their TTL ends. The wait is bounded by the backend's timeout (none while its breaker is open).
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
        cache.tables_changed(spec.changes).await;
    }
    Invalidated {
        result,
        _r: PhantomData,
    }
}

impl ResponseCache {
    /// Records that `tables` changed: bumps their in-process [`versions`](Self::versions)
    /// (what kept values are checked against, with or without Redis), then their shared
    /// generations in one round trip, reporting each to the observers; returns whether the
    /// backend took the bump. Never fails: a disabled cache only bumps the versions, a
    /// backend error is counted (`error` event per table) and otherwise ignored.
    pub async fn tables_changed(&self, tables: &[Table]) -> bool {
        tables.iter().for_each(|t| self.0.versions.bump(*t));
        self.bump_generations(tables).await
    }

    /// Records that `tables` only gained rows of the present, after every past bucket a kept
    /// value counts (as the collector appends what it hears): bumps their shared generations
    /// like [`tables_changed`](Self::tables_changed), but not their in-process versions.
    pub async fn tables_grew(&self, tables: &[Table]) -> bool {
        self.bump_generations(tables).await
    }

    async fn bump_generations(&self, tables: &[Table]) -> bool {
        if tables.is_empty() || !self.0.backend.is_enabled() {
            return false;
        }
        let names: Vec<&'static str> = tables.iter().map(|t| t.name()).collect();
        let names = names.as_slice();
        match self.0.backend.invalidate_many(names).await {
            Ok(()) => {
                names.iter().for_each(|n| self.0.observer.invalidated(n));
                true
            }
            Err(e) => {
                tracing::debug!(target: "hub::cache", error = %e, ?names,
                    "invalidation skipped; entries expire with their TTL");
                names.iter().for_each(|n| self.0.observer.error(n));
                false
            }
        }
    }
}
