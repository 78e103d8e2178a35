//! hub-api's integration tests, one module per area, linked into ONE test binary.
//!
//! One binary instead of one per file: each would link all of hub-api and its dependencies
//! again (about 65 MB and several seconds of linking apiece), which made a cold
//! `cargo test --workspace` need over 5 GB of disk. Run one area with
//! `cargo test -p hub-api --test api nodes::`.
//!
//! No test here may change process-wide state (environment variables, globals): they all
//! share one process.

#[path = "support/cli_settings.rs"]
mod cli_settings;
mod common;
#[path = "support/raw_packets.rs"]
mod raw_packets;
mod writes_support;

mod advertisements;
mod cache;
mod cache_cluster;
mod channels_profiles;
mod coherence;
mod collector_shapes;
mod compose;
mod concurrent_writes;
mod dashboard;
mod data_changes;
mod database_down;
mod docs_names;
mod feeds;
mod hostile_input;
mod identity;
mod layout;
mod list_totals;
mod mesh_routes;
mod mesh_routes_writes;
mod messages;
mod metrics;
mod near_cache;
mod network_metrics;
mod nodes;
mod openapi;
mod packet_groups;
mod packets;
mod postgres;
mod postgres_fixture;
mod read_indexes;
mod schema;
mod seed;
mod server;
mod server_timeouts;
mod settings_docs;
mod telemetry_trace;
mod upstream_settings;
mod writes_adoptions;
mod writes_channels;
mod writes_invalidation;
mod writes_profiles;
mod writes_tags;
