//! The core of hub: settings, database access, entities, roles and channel visibility.
//!
//! `hub-api` builds the HTTP server on top of this crate; nothing here knows about HTTP
//! except the response-cache runtime that the `#[cached]` macro calls.

pub mod db;
pub mod entity;
pub mod roles;
pub mod settings;
pub mod time;
