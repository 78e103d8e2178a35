//! [`Cached`]: what a cached handler returns (a HIT, a MISS or the handler's error), with the
//! cache headers and their OpenAPI description.

use std::marker::PhantomData;
use std::time::Duration;

use poem::error::IntoResult;
use poem::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use poem::http::{HeaderValue, StatusCode};
use poem::{Body, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};

use super::{Audience, CACHE_STATUS, Private, X_CACHE};
use crate::cache::envelope::Envelope;

pub(super) enum Outcome {
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
    pub(super) outcome: Outcome,
    /// `Cache-Status` value, e.g. `hub; fwd=miss; stored`.
    pub(super) status: Option<String>,
    /// Strong ETag of the body (200 responses to GET/HEAD only).
    pub(super) etag: Option<String>,
    /// Answer `304 Not Modified` instead of the body (the request's `If-None-Match` matched).
    pub(super) not_modified: bool,
    /// `Cache-Control` of a [`Public`] operation's 200 or 304 answer.
    pub(super) cache_control: Option<String>,
    // `fn() -> (R, A)` keeps `Cached` Send + Sync whatever `R` and `A` are; none is stored.
    pub(super) _r: PhantomData<fn() -> (R, A)>,
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
    pub(super) fn with(outcome: Outcome) -> Self {
        Self {
            outcome,
            status: None,
            etag: None,
            not_modified: false,
            cache_control: None,
            _r: PhantomData,
        }
    }

    pub(super) fn hit(envelope: Envelope, status: String) -> Self {
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

    /// The `Cache-Control` a [`Public`](super::Public) operation's 200 or 304 answer carries.
    pub fn cache_control(&self) -> Option<&str> {
        self.cache_control.as_deref()
    }

    /// Marks a [`Public`] operation's answer `public, max-age=<max_age>`; does nothing for
    /// other audiences or when `max_age` is unknown (no cache in the request data).
    pub(super) fn public_for(mut self, max_age: Option<Duration>) -> Self {
        if A::PUBLIC {
            self.cache_control = max_age.map(|ttl| format!("public, max-age={}", ttl.as_secs()));
        }
        self
    }

    pub(super) fn status(mut self, status: String) -> Self {
        self.status = Some(status);
        self
    }

    /// Marks the response `304 Not Modified` when `if_none_match` matches its ETag.
    pub(super) fn conditional(mut self, if_none_match: Option<&str>) -> Self {
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

pub(super) fn string_header(
    name: &str,
    description: &str,
    required: bool,
    values: &[&str],
) -> MetaHeader {
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
