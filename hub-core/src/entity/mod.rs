//! sea-orm entities for the tables of the MeshCore Hub schema (see `migration`).
//!
//! Relations are joined explicitly in queries, so the entities declare none. Datetime
//! columns are [`crate::time::Timestamp`], which reads SQLite text and PostgreSQL
//! `timestamp with time zone` alike.

pub mod advertisements;
pub mod channels;
pub mod event_observers;
pub mod events_log;
pub mod messages;
pub mod node_tags;
pub mod nodes;
pub mod packet_path_hops;
pub mod raw_packets;
pub mod route_nodes;
pub mod route_observers;
pub mod route_recent_matches;
pub mod route_result_history;
pub mod route_results;
pub mod routes;
pub mod telemetry;
pub mod trace_paths;
pub mod user_profile_nodes;
pub mod user_profiles;
