//! Indexes hub adds for its own read paths, beyond MeshCore Hub's.
//!
//! Only databases hub migrates get these; a database the Python service manages is never
//! altered (see `hub_core::db`). Their names start with [`crate::HUB_INDEX_PREFIX`], which
//! MeshCore Hub never uses, so a later MeshCore Hub migration cannot collide with them.
//! (Databases migrated before the prefix existed are renamed by
//! `m20261128_000003_complete_schema`.)

use crate::ReadIndexMigration;

pub(crate) const MIGRATION: ReadIndexMigration = ReadIndexMigration {
    name: "m20261126_000002_read_indexes",
    indexes: INDEXES,
};

/// (name, table, columns): each backs a filter or sort of docs/contract/api.md section 2.
pub(crate) const INDEXES: &[(&str, &str, &[&str])] = &[
    // dashboard node-count series and the "name" tag lookups
    ("hub_ix_nodes_created_at", "nodes", &["created_at"]),
    ("hub_ix_node_tags_key_value", "node_tags", &["key", "value"]),
    // flood-only advert counts and the default route_type filter, newest first
    (
        "hub_ix_advertisements_route_type_received_at",
        "advertisements",
        &["route_type", "received_at"],
    ),
    (
        "hub_ix_advertisements_event_hash",
        "advertisements",
        &["event_hash"],
    ),
    // message visibility / channel counts by time
    (
        "hub_ix_messages_channel_idx_received_at",
        "messages",
        &["channel_idx", "received_at"],
    ),
    ("hub_ix_messages_event_hash", "messages", &["event_hash"]),
    // per-channel message counts of the dashboard, answered from the index alone
    (
        "hub_ix_messages_type_channel_idx",
        "messages",
        &["message_type", "channel_idx"],
    ),
    (
        "hub_ix_raw_packets_path_hash_bytes_received_at",
        "raw_packets",
        &["received_at", "path_hash_bytes"],
    ),
    (
        "hub_ix_user_profile_nodes_profile",
        "user_profile_nodes",
        &["user_profile_id", "adopted_at"],
    ),
];
