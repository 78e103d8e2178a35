//! What `#[cached]` handlers call at run time (docs/contract/cache-design.md sections 1-4 and 6).
//!
//! The `hub-macros` expansion of a cached handler is, in essence:
//!
//! ```text
//! static SPEC: CacheSpec = CacheSpec {
//!     name: "nodes", ttl: Ttl::Default, params: &[KeyParam::first("limit")],
//!     reads: &[Table::Nodes, Table::NodeTags],
//! };
//! serve(&SPEC, __hub_req, variant(role_key, __hub_req), async move || { /* body */ }).await
//! ```
//!
//! Hand-written use (what the macro generates) in a `poem-openapi` API:
//!
//! ```
//! use hub_core::cache::runtime::{serve, CacheSpec, Cached, Ttl};
//! use hub_core::tables::Table;
//! use poem::Request;
//! use poem_openapi::{payload::Json, OpenApi};
//!
//! struct Api;
//!
//! #[OpenApi]
//! impl Api {
//!     #[oai(path = "/answer", method = "get")]
//!     async fn answer(&self, req: &Request) -> Cached<poem::Result<Json<u32>>> {
//!         static SPEC: CacheSpec =
//!             CacheSpec { name: "answer", ttl: Ttl::Default, params: &[], reads: Table::ALL };
//!         serve(&SPEC, req, String::new(), async move || { Ok(Json(42)) }).await
//!     }
//! }
//! ```
//!
//! The cache never fails or stalls a request: every backend error is a MISS, and backend calls
//! are bounded by the backend's own timeout.
//!
//! Every 200 answer to a GET/HEAD of a cached operation carries `X-Cache`, a strong `ETag` (the
//! hash of the exact body bytes, computed on a MISS too) and `Cache-Status` (RFC 9211), and
//! becomes a `304` when `If-None-Match` matches. Concurrent misses of one key run the handler
//! once (see `coalesce.rs`). `Cache-Control` is set by `hub-api`'s middleware, except on the
//! 200 and 304 answers of a [`Public`] operation, which carry `public, max-age=<ttl>` from here.
//!
//! Invalidation (docs/contract/cache-design.md section 7): a read fetches the entry and the
//! current generations of the tables it reads ([`CacheSpec::reads`]) in one round trip, and
//! serves the entry only if it was stored under exactly those generations; a miss stores the
//! generations read BEFORE the handler ran. A write marked `#[invalidates(...)]` runs through
//! [`invalidating`], which bumps the tables it changes after the handler answered 2xx; a
//! change hub did not make bumps them through [`ResponseCache::tables_changed`] when
//! [`crate::changes`] notices it.

mod handle;
mod invalidate;
mod response;
mod serve;
mod spec;

pub use super::key::{KeyParam, ParamRead};
use handle::Freshness;
pub use handle::{DEFAULT_COALESCE_WAIT, DEFAULT_TTL_FEEDS, ResponseCache};
pub use invalidate::{Invalidated, invalidating};
pub use response::{Cached, if_none_match_matches};
pub use serve::{serve, variant};
pub use spec::{Audience, CacheSpec, CachedApi, InvalidateSpec, Private, Public, Ttl};

/// Response header telling whether the response came from the cache.
pub const X_CACHE: &str = "x-cache";

/// RFC 9211 response header with the cache's detail, e.g. `hub; hit; ttl=12`.
pub const CACHE_STATUS: &str = "cache-status";

/// Bodies larger than this are served but not stored: one huge response should not evict a
/// large part of the cache or hold a big buffer per request.
pub const MAX_STORED_BODY_BYTES: usize = 8 * 1024 * 1024;
