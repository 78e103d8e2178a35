//! What the macros emit about each operation: [`CacheSpec`] and [`Ttl`] for a cached read,
//! [`InvalidateSpec`] for a write, and the [`Audience`] a cached response is kept for.

use poem_openapi::registry::MetaHeader;

use super::response::string_header;
use crate::cache::key::KeyParam;
use crate::tables::Table;

/// Which TTL a cached operation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// `REDIS_CACHE_TTL`.
    Default,
    /// `REDIS_CACHE_TTL_DASHBOARD`.
    Dashboard,
    /// `REDIS_CACHE_TTL_FEEDS`.
    Feeds,
    /// A fixed number of seconds from the attribute.
    Seconds(u64),
}

/// Compile-time description of one cached operation, emitted by `#[cached]`.
#[derive(Debug)]
pub struct CacheSpec {
    /// Cache name, e.g. `dashboard/stats`: the key namespace and the metrics label.
    pub name: &'static str,
    /// TTL selector.
    pub ttl: Ttl,
    /// The query and path parameters the handler declares, and how it reads each; only what
    /// it reads of them enters the key (see [`canonical_params`](crate::cache::key::canonical_params)).
    pub params: &'static [KeyParam],
    /// The tables the response is computed from (`#[cached(reads = [...])]`, every table when
    /// not declared): an entry is valid while their generations are those it was stored
    /// under.
    pub reads: &'static [Table],
}

/// Implemented by `#[cached_api]` for every API type it expands: the cache names of the
/// type's `#[cached]` operations, so that an app can check that no two operations of all the
/// APIs it mounts share a name (names are only checked within one impl at compile time).
pub trait CachedApi {
    /// One entry per `#[cached]` operation, in declaration order.
    const CACHE_NAMES: &'static [&'static str];
}

/// Who may keep a cached operation's responses, as its `Cache-Control` tells clients and
/// shared caches: the second type parameter of [`Cached`](super::Cached), so that the OpenAPI document
/// states each operation's own header.
pub trait Audience: 'static {
    /// Whether every caller gets the same response, so that any cache may keep it for the
    /// operation's TTL (`Cache-Control: public, max-age=<ttl>`).
    const PUBLIC: bool;

    /// The `Cache-Control` header as the OpenAPI document describes it.
    fn cache_control_header() -> MetaHeader;
}

/// The default [`Audience`]: responses may vary by role and be invalidated server-side, so
/// `hub-api` marks them `private, no-cache` and clients revalidate with `If-None-Match`.
#[derive(Debug, Clone, Copy)]
pub struct Private;

impl Audience for Private {
    const PUBLIC: bool = false;

    fn cache_control_header() -> MetaHeader {
        string_header(
            "Cache-Control",
            "`private, no-cache`: responses vary by role and may be invalidated server-side, \
             so clients revalidate with If-None-Match. Absent when API_CACHE_CONTROL_ENABLED \
             is false.",
            false,
            &[],
        )
    }
}

/// The [`Audience`] of `#[cached(public)]` operations (the RSS and Atom feeds): the same
/// response for every caller, keyed by path alone; 200 and 304 answers carry
/// `Cache-Control: public, max-age=<the operation's TTL in seconds>`.
#[derive(Debug, Clone, Copy)]
pub struct Public;

impl Audience for Public {
    const PUBLIC: bool = true;

    fn cache_control_header() -> MetaHeader {
        string_header(
            "Cache-Control",
            "`public, max-age=<seconds>`: the same response for every caller, which any cache \
             may keep for the operation's TTL. Absent when API_CACHE_CONTROL_ENABLED is false.",
            false,
            &[],
        )
    }
}

/// Compile-time description of a write operation, emitted by `#[invalidates(...)]`.
#[derive(Debug)]
pub struct InvalidateSpec {
    /// The tables the write changes, whose generations it bumps after a 2xx answer.
    pub changes: &'static [Table],
}
