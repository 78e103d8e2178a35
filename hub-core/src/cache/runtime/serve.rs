//! [`serve`]: one cached read, from the key to the stored entry.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Waker};
use std::time::Duration;

use poem::error::IntoResult;
use poem::http::header::{CONTENT_TYPE, IF_NONE_MATCH};
use poem::http::{HeaderMap, Method, StatusCode};
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::ApiResponse;

use super::{Audience, CacheSpec, Cached, Freshness, MAX_STORED_BODY_BYTES, ResponseCache};
use crate::cache::backend::Found;
use crate::cache::coalesce::{Flight, Leader, Shared, Storing};
use crate::cache::envelope::{Envelope, etag_for, unix_now};
use crate::cache::key::build_key;
use crate::cache::observer::{CacheObserver, Lookup};
use crate::cache::refresh::Refreshing;

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
/// `handler` is an async closure, called (and its future boxed) only when the answer is
/// computed: a HIT never builds the handler's future, and this future stays small whatever
/// the handler's size, so the layers above it do not move the handler's state on every
/// request.
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
    F: AsyncFnOnce() -> R + Send,
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
    F: AsyncFnOnce() -> R + Send,
    A: Audience,
{
    let read = *req.method() == Method::GET || *req.method() == Method::HEAD;
    let conditional = if_none_match(req.headers());
    let inm = conditional.as_deref();
    let Some(cache) = req.data::<ResponseCache>() else {
        let fwd = if read { BYPASS_DISABLED } else { "method" };
        let answer = if read { Answer::Tagged } else { Answer::AsIs };
        return compute(Miss::new(spec, fwd, answer), handler)
            .await
            .conditional(inm);
    };
    let observer = &cache.0.observer;
    if !read {
        // Writes are never looked up, stored or coalesced.
        observer.lookup(spec.name, Lookup::Bypass);
        return compute(Miss::new(spec, "method", Answer::AsIs), handler).await;
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
    let names: Vec<&'static str> = spec.reads.iter().map(|t| t.name()).collect();
    let refreshing = req.extensions().get::<Refreshing>().is_some();
    let (fwd, generations) = if cache.0.backend.is_enabled() {
        // Redis' remaining time decides freshness only when there is a grace period.
        let with_expiry = !cache.0.grace.is_zero();
        match cache.0.backend.lookup(&key, &names, with_expiry).await {
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
                            cache.0.refresher.start(&key, req);
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
    // Only a GET's answer is stored (a HEAD's has no body to store).
    let answer = match generations {
        Some(generations) if *req.method() == Method::GET => Answer::Stored(Store {
            cache,
            key: key.as_str(),
            generations,
        }),
        _ => Answer::Tagged,
    };
    let miss = Miss::new(spec, fwd, answer);
    let Some(flights) = &cache.0.flights else {
        return compute(miss, handler).await.conditional(inm);
    };
    let fresh = match flights.take_part(&flight_key, cache.0.coalesce_wait).await {
        Flight::Lead(leader) => compute(miss.led_by(leader), handler).await,
        Flight::Alone => compute(miss, handler).await,
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
    pub(super) cache: &'a ResponseCache,
    pub(super) key: &'a str,
    pub(super) generations: Vec<u64>,
}

/// What a MISS may make of its handler's 200 answer.
enum Answer<'a> {
    /// Nothing: a write's answer goes back as the handler gave it (no ETag).
    AsIs,
    /// Buffered and given its ETag, not stored (no store reached, or a HEAD).
    Tagged,
    /// Buffered, given its ETag, and stored here.
    Stored(Store<'a>),
}

/// One MISS: the operation, the `Cache-Status` forward reason used when the answer is not
/// stored, what the answer may become, and the concurrent identical misses waiting for it.
struct Miss<'a> {
    spec: &'static CacheSpec,
    fwd: &'a str,
    answer: Answer<'a>,
    leader: Option<Leader>,
}

impl<'a> Miss<'a> {
    fn new(spec: &'static CacheSpec, fwd: &'a str, answer: Answer<'a>) -> Self {
        Miss {
            spec,
            fwd,
            answer,
            leader: None,
        }
    }

    /// The same miss, leading the waiters of `leader`.
    fn led_by(self, leader: Leader) -> Self {
        Miss {
            leader: Some(leader),
            ..self
        }
    }
}

/// Runs the handler; for a 200 answer that is not [`Answer::AsIs`], buffers the body,
/// computes its ETag, hands the response to the waiters of the miss' leader, then stores it
/// ([`Answer::Stored`], bodies up to [`MAX_STORED_BODY_BYTES`]) in a spawned task, so that
/// neither the waiters nor this request's client wait for the store's write. Sets
/// `Cache-Status` to `hub; fwd=miss; stored` when the response is being stored, else
/// `hub; fwd=<fwd>`.
async fn compute<R, T, F, A>(miss: Miss<'_>, handler: F) -> Cached<R, A>
where
    R: IntoResult<T>,
    T: IntoResponse,
    F: AsyncFnOnce() -> R,
    A: Audience,
{
    let resp = match Box::pin(handler()).await.into_result() {
        Ok(v) => v.into_response(),
        Err(e) => return Cached::error(e),
    };
    let Miss {
        spec,
        fwd,
        answer,
        leader,
    } = miss;
    let store = match answer {
        _ if resp.status() != StatusCode::OK => {
            return Cached::miss(resp).status(format!("hub; fwd={fwd}"));
        }
        Answer::AsIs => return Cached::miss(resp).status(format!("hub; fwd={fwd}")),
        Answer::Tagged => None,
        Answer::Stored(store) => Some(store),
    };
    let (parts, body) = resp.into_parts();
    let body = match body.into_bytes().await {
        Ok(b) => b,
        // The body is gone; report the read failure as the response would have failed anyway.
        Err(e) => return Cached::error(poem::Error::from(e)),
    };
    let store = store.filter(|_| body.len() <= MAX_STORED_BODY_BYTES);
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
    pub(super) fn spawn_write(
        self,
        spec: &'static CacheSpec,
        encoded: Vec<u8>,
        storing: Option<Storing>,
    ) {
        let cache = self.cache.clone();
        let key = self.key.to_owned();
        let write = async move {
            // Errors are already logged (rate-limited) by the backend; a failed store only
            // means the next request misses.
            match cache
                .0
                .backend
                .set(&key, &encoded, cache.kept_for(spec.ttl))
                .await
            {
                Ok(()) => cache.0.observer.stored(spec.name),
                Err(_) => cache.0.observer.error(spec.name),
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
