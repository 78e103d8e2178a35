//! Covering indexes for uncached first pages and dashboard aggregates on large networks
//! (docs/benchmarks.md, "Every filter"). Prefixed like every read index of hub.

use sea_orm_migration::prelude::*;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000004_fast_read_indexes"
    }
}

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::drop_indexes(manager, INDEXES).await
    }
}
