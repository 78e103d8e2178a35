//! hub-core's integration tests, one module per area, linked into one test binary so that
//! hub-core and its dependencies are linked once, not once per file (see hub-api's
//! `tests/api.rs`). `redis_tls` stays a binary of its own: it sets `SSL_CERT_FILE`, which
//! would leak into every test sharing its process.

mod cache_properties;
mod changes;
mod http_cache;
mod invalidation;
mod near_cache;
mod redis_cache;
mod redis_cluster;
mod runtime_openapi;
mod stale;
