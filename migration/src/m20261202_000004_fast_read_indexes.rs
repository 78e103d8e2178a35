//! Covering indexes for uncached first pages and dashboard aggregates on large networks
//! (docs/benchmarks.md, "Every filter"). Prefixed like every read index of hub.

use crate::ReadIndexMigration;

pub(crate) const MIGRATION: ReadIndexMigration = ReadIndexMigration {
    name: "m20261202_000004_fast_read_indexes",
    indexes: INDEXES,
};

/// (name, table, columns), each named for the query it serves.
pub(crate) const INDEXES: &[(&str, &str, &[&str])] = &[
    // advert pages and the recent list, newest first: walked in order, stopped after a page
    (
        "hub_ix_advertisements_received_at_id",
        "advertisements",
        &["received_at", "id"],
    ),
    // Not (received_at, message_type, channel_idx) on messages: it made the dashboard's
    // first computation of message days cheaper, but SQLite then counted message lists
    // through it instead of the narrower (message_type, channel_idx) (46 -> 71 ms a page).
    // packet-breakdown from the index alone
    (
        "hub_ix_raw_packets_received_at_event_type_path_hash_bytes",
        "raw_packets",
        &["received_at", "event_type", "path_hash_bytes"],
    ),
];
