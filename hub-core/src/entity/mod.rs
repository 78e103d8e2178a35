//! sea-orm entities for the MeshCore Hub tables hub reads (see `migration`).
//!
//! Relations are joined explicitly in queries, so the entities declare none.

pub mod advertisements;
pub mod channels;
pub mod event_observers;
pub mod messages;
pub mod node_tags;
pub mod nodes;
pub mod raw_packets;
pub mod route_result_history;
pub mod route_results;
pub mod routes;
pub mod user_profile_nodes;
pub mod user_profiles;
