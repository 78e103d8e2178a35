//! Attribute macros for hub response caching: [`macro@cached_api`] on a poem-openapi
//! `#[OpenApi]` impl block, [`macro@cached`] on its GET operations and
//! [`macro@invalidates`] on its writes.
//!
//! The design, the key layout and the headers are described in `docs/contract/cache-design.md` (section 1 for
//! these macros). The generated code calls `::hub_core::cache::runtime`, so a crate using the
//! macros depends on `hub-core` and `poem`.
//!
//! # Why two attributes
//!
//! `#[OpenApi]` expands before any attribute on its methods and generates calls from the
//! signatures it saw, so a method-level macro that adds a parameter would break those calls.
//! `#[cached_api]` stands above `#[OpenApi]`, runs first, rewrites the methods marked
//! `#[cached]` and hands the impl to `#[OpenApi]` otherwise unchanged. `#[cached]` itself is
//! only a marker that `#[cached_api]` consumes; expanded on its own it is an error.

mod args;
mod check;
mod errors;
mod expand;
mod oai;

use proc_macro::TokenStream;

/// Enables `#[cached(...)]` on the operations of a poem-openapi `#[OpenApi]` impl block.
///
/// Must stand **above** `#[OpenApi]` (`#[poem_openapi::OpenApi]` and `#[OpenApi(...)]` work
/// too) and takes no arguments. For every method marked `#[cached(...)]` it:
///
/// - checks the arguments (see [`macro@cached`]), that the method is an `async fn`, that its
///   `#[oai(...)]` operation is a GET, and that cache names are unique within the impl;
/// - reuses the handler's `&Request` parameter if it has one, else appends
///   `__hub_req: &::poem::Request` (poem-openapi extracts it natively, it does not appear in
///   the OpenAPI document);
/// - changes the return type `R` to `::hub_core::cache::runtime::Cached<R>`, which keeps `R`'s
///   responses in the OpenAPI document and adds the cache headers;
/// - wraps the body in `::hub_core::cache::runtime::serve(...)` with a static `CacheSpec`
///   (name, ttl, and the handler's `Query<_>` and `Path<_>` parameters with how each is read,
///   which make up the parameter part of the key) and the key variant;
/// - implements `::hub_core::cache::runtime::CachedApi` for the type, listing its cache
///   names, so that the app can check them for uniqueness across all its APIs.
///
/// The key covers every request input the handler declares: a path parameter by its value; a
/// single-valued query parameter (`Query<T>`, `Query<Option<T>>`, lists with
/// `explode = false`) by its first occurrence, the only one poem-openapi parses; a
/// `Query<Vec<T>>` by all its occurrences in request order; a `Query<HashSet<T>>` or
/// `Query<BTreeSet<T>>` by its distinct values. `Header<_>` and `Cookie<_>` parameters are a
/// compile error unless `key = ...` is given (the variant must then cover them); so are two
/// key parameters with one name. Other extractors (`Data<_>`, custom ones reading headers)
/// are not seen: a response that depends on them needs `key = ...`.
///
/// Methods without `#[cached]` are left untouched; all attributes other than `#[cached]`
/// (`#[oai(...)]` on methods and parameters, doc comments) are kept for `#[OpenApi]`.
///
/// # Example
///
/// ```
/// use hub_macros::{cached, cached_api};
/// use poem_openapi::{Object, OpenApi, param::Query, payload::Json};
///
/// #[derive(Object)]
/// struct Stats {
///     total: u64,
/// }
///
/// fn role_key(req: &poem::Request) -> String {
///     let roles = req.headers().get("x-user-roles").and_then(|v| v.to_str().ok());
///     format!("role={}", roles.unwrap_or("anonymous"))
/// }
///
/// struct DashboardApi;
///
/// #[cached_api]
/// #[OpenApi]
/// impl DashboardApi {
///     #[oai(path = "/dashboard/stats", method = "get")]
///     #[cached(name = "dashboard/stats", ttl = dashboard, key = role_key)]
///     async fn stats(&self) -> poem::Result<Json<Stats>> {
///         Ok(Json(Stats { total: 42 }))
///     }
///
///     /// Key: `{prefix}:nodes::{canonical query of `search` and `type`}`.
///     #[oai(path = "/nodes", method = "get")]
///     #[cached(name = "nodes")]
///     async fn nodes(
///         &self,
///         search: Query<Option<String>>,
///         #[oai(name = "type")] kind: Query<Option<String>>,
///     ) -> poem::Result<Json<Vec<String>>> {
///         Ok(Json([search.0, kind.0].into_iter().flatten().collect()))
///     }
/// }
/// # let _ = poem_openapi::OpenApiService::new(DashboardApi, "docs", "1").spec();
/// ```
///
/// # Errors
///
/// Compile errors, spanned on the offending tokens, when `#[OpenApi]` is not below
/// `#[cached_api]`, and for every misuse of `#[cached]` listed there.
#[proc_macro_attribute]
pub fn cached_api(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cached_api(args.into(), item.into()).into()
}

/// Marks a GET operation of a [`macro@cached_api`] impl as cached.
///
/// ```text
/// #[oai(path = "/dashboard/stats", method = "get")]
/// #[cached(name = "dashboard/stats", ttl = dashboard, key = role_key)]
/// async fn stats(&self, db: Data<&Db>) -> Result<Json<DashboardStats>> { /* ... */ }
/// ```
///
/// (A complete, compiled example is on [`macro@cached_api`].)
///
/// Arguments, in any order:
///
/// - `name = "..."` (required): the cache name, used in keys (`{prefix}:{name}:...`) and as
///   the metrics label. Non-empty, no `:` `*` `{` `}` or whitespace, unique within the impl.
/// - `ttl = default | dashboard | feeds | <seconds>` (optional, `default` when absent):
///   `REDIS_CACHE_TTL`, `REDIS_CACHE_TTL_DASHBOARD`, `REDIS_CACHE_TTL_FEEDS`, or an integer
///   literal `> 0`.
/// - `key = path` (optional): a function `fn(&poem::Request) -> K` with `K: Display` giving
///   the variant part of the key, e.g. `role=admin`. A function of another type is a type
///   error reported at the path.
/// - `reads = [nodes, node_tags, ...]` (optional): the tables of MeshCore Hub
///   (`hub_core::tables`) the response is computed from, as bare identifiers, each once. An
///   entry is valid while none of them changed; when `reads` is absent, a change to any table
///   ends it. A name that is not a table is a compile error at the name (it expands to
///   `hub_core::tables::by_name::<name>`). The operation's OpenAPI description ends with the
///   list. Declaring too few tables serves stale answers: hub-api's coherence test compares
///   every cached answer with a fresh computation after random writes to catch it.
/// - `public` (optional flag): every caller gets the same response (the RSS and Atom
///   feeds), so its 200 and 304 answers carry `Cache-Control: public, max-age=<ttl>` and the
///   return type becomes `Cached<R, Public>`, which documents that header. Its key is the
///   path alone: a `public` handler declaring a `Query<_>` parameter, or given `key = ...`,
///   is a compile error. The body may be any payload (`application/rss+xml`, ...): the cache
///   stores and replays it with its content type, ETag and 304 as for JSON.
///
/// The handler must be an `async fn` whose `#[oai(...)]` declares `method = "get"` only. It
/// never writes a request parameter or the `Cached<_>` wrapper itself: `#[cached_api]` does
/// both.
///
/// `#[cached]` has no effect of its own: `#[cached_api]`, placed above `#[OpenApi]`, rewrites
/// the method and leaves the attribute inert (`#[cached(__processed_by_cached_api)]`, which
/// also keeps the `use hub_macros::cached` import used). Expanded by itself (`#[cached_api]`
/// missing, or below `#[OpenApi]`, or the attribute written under a renamed import that
/// `#[cached_api]` cannot recognise), it is the compile error
/// `#[cached] was not expanded by #[cached_api]: ...`, naming these causes.
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cached(args.into(), item.into()).into()
}

/// Marks a write operation of a [`macro@cached_api`] impl with the tables of MeshCore Hub it
/// changes: `#[invalidates(channels)]`.
///
/// After the handler returns a 2xx response (that is, after its transaction committed), the
/// runtime bumps the generation of every listed table in one Redis round trip (a pipeline of
/// `INCR {prefix}:gen:{table}`) and its in-process version, so every entry that read one of
/// them is a MISS from then on, whatever the number of cached keys. The response is never
/// changed and never fails because of the cache: with Redis down the bump is skipped
/// (logged, counted as a cache error, bounded by `REDIS_TIMEOUT_MS` or immediate while the
/// breaker is open) and entries expire with their TTL. Each table is reported to the cache
/// observers (`hub_cache_invalidations_total`). The operation's OpenAPI description ends with
/// the list.
///
/// # Table checks (at compile time)
///
/// Tables are bare identifiers, listed once, at least one; each expands to
/// `hub_core::tables::by_name::<name>`, so a name that is not a table fails the build at the
/// name, with the compiler's suggestion of the closest one.
///
/// The operation must be an `async fn` whose `#[oai(...)]` declares write methods only (`post`,
/// `put`, `patch`, `delete`; not `get` or `head`). As with `#[cached]`, `#[cached_api]` injects
/// a `&poem::Request` parameter if needed and wraps the return type (`Invalidated<R>`, whose
/// OpenAPI metadata is `R`'s unchanged); writes are never looked up, stored, coalesced or
/// answered 304.
///
/// # Example
///
/// ```
/// use hub_macros::{cached, cached_api, invalidates};
/// use poem_openapi::{OpenApi, payload::Json};
///
/// struct ChannelsApi;
///
/// #[cached_api]
/// #[OpenApi]
/// impl ChannelsApi {
///     #[oai(path = "/channels", method = "get")]
///     #[cached(name = "channels", reads = [channels])]
///     async fn list(&self) -> poem::Result<Json<Vec<String>>> {
///         Ok(Json(vec!["public".into()]))
///     }
///
///     /// Creates a channel.
///     #[oai(path = "/channels", method = "post")]
///     #[invalidates(channels)]
///     async fn create(&self, name: Json<String>) -> poem::Result<Json<String>> {
///         Ok(Json(name.0))
///     }
/// }
/// # let _ = poem_openapi::OpenApiService::new(ChannelsApi, "docs", "1").spec();
/// ```
///
/// Expanded on its own (`#[cached_api]` missing or below `#[OpenApi]`, or a renamed import),
/// it is the compile error `#[invalidates] was not expanded by #[cached_api]: ...`.
#[proc_macro_attribute]
pub fn invalidates(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::invalidates(args.into(), item.into()).into()
}
