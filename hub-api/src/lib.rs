//! hub-api: the HTTP server of hub.
//!
//! [`app::build`] assembles the poem application; [`cli`] is the command line of the
//! `hub-api` binary (`serve`, `migrate`, `seed`). Integration tests build the same application.

pub mod app;
pub mod auth;
pub mod body;
pub mod caller;
pub mod cli;
pub mod documented;
pub mod error;
pub mod input_guard;
pub mod metrics;
pub mod middleware;
pub mod network_metrics;
pub mod page;
pub mod params;
pub mod query;
pub mod read_indexes;
pub mod responses;
pub mod routes;
pub mod seed;
pub mod server;
pub mod state;
