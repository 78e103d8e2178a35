//! Response caching (see `docs/contract/cache-design.md`).
//!
//! - [`runtime`]: what `#[cached]` handlers call ([`runtime::serve`], [`runtime::Cached`]).
//! - [`CacheBackend`]: the store abstraction, with [`RedisCache`] and [`NullCache`].
//! - [`breaker`]: the circuit breaker that keeps a dead Redis from slowing requests.
//! - [`key`] and [`envelope`]: what is stored under which key.
//! - Freshness: entries are valid under the generations of the tables they read
//!   ([`crate::tables`]), bumped by writes and by [`crate::changes`].
//! - [`near`]: the per-process near cache in front of Redis, kept coherent by client tracking.
//! - [`CacheSettings`]: the `REDIS_*` settings.

pub mod backend;
pub mod breaker;
mod coalesce;
mod connection;
pub mod envelope;
pub mod key;
pub mod near;
pub mod observer;
pub mod redis;
pub mod refresh;
pub mod runtime;
pub mod settings;
mod tracking;

pub use backend::{BoxFuture, CacheBackend, CacheError, EntryWithGenerations, Found, NullCache};
pub use breaker::BreakerState;
pub use redis::{RedisCache, RedisOptions};
pub use runtime::{CacheSpec, Cached, InvalidateSpec, Invalidated, ResponseCache, Ttl};
pub use settings::CacheSettings;
