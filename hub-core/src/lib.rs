//! The core of hub: settings, database access, entities, roles and channel visibility, and
//! the response cache.
//!
//! `hub-api` builds the HTTP server on top of this crate; nothing here knows about HTTP
//! except the response-cache runtime ([`cache::runtime`]) that the `#[cached]` macro calls.

pub mod cache;
pub mod changes;
pub mod db;
pub mod entity;
pub mod roles;
pub mod route_matching;
pub mod settings;
pub mod tables;
pub mod time;

#[cfg(feature = "test-support")]
pub mod test_support;
