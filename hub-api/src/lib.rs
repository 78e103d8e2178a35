//! hub-api: the HTTP server of hub.
//!
//! [`app::build`] assembles the poem application; the `hub-api` binary adds the command
//! line (`serve`, `migrate`, `seed`). Integration tests build the same application.

pub mod app;
pub mod auth;
pub mod body;
pub mod caller;
pub mod error;
pub mod metrics;
pub mod page;
pub mod params;
pub mod query;
pub mod routes;
pub mod seed;
pub mod state;
