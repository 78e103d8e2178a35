//! The tables the seed fills, their columns, and the multi-row INSERT statements for them.
//!
//! Rows travel as flat `Vec<Value>` chunks of a fixed number of rows, so every full chunk of a
//! table runs the same SQL text: sqlx then prepares it once per connection and reuses it.

use sea_orm::{DbBackend, Value};

/// Bound parameters per statement: below SQLite's limit (32766 since 3.32) and PostgreSQL's
/// (65535), with room to spare.
const MAX_PARAMS: usize = 30_000;
/// Rows per statement. Larger statements stop paying off around here (measured: see
/// docs/benchmarks.md) while keeping each chunk's memory small.
const MAX_ROWS: usize = 500;

/// A table the seed writes. The order is the order of [`Table::ALL`]: parents before children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `nodes`
    Nodes,
    /// `node_tags`
    NodeTags,
    /// `channels`
    Channels,
    /// `user_profiles`
    UserProfiles,
    /// `user_profile_nodes`
    UserProfileNodes,
    /// `routes`
    Routes,
    /// `route_nodes`
    RouteNodes,
    /// `route_observers`
    RouteObservers,
    /// `route_results`
    RouteResults,
    /// `route_result_history`
    RouteResultHistory,
    /// `advertisements`
    Advertisements,
    /// `messages`
    Messages,
    /// `event_observers`
    EventObservers,
    /// `raw_packets`
    RawPackets,
    /// `packet_path_hops`
    PacketPathHops,
    /// `telemetry`
    Telemetry,
    /// `trace_paths`
    TracePaths,
    /// `route_recent_matches` (references raw packets)
    RouteRecentMatches,
}

impl Table {
    /// Every seeded table, parents first.
    pub const ALL: [Table; 18] = [
        Table::Nodes,
        Table::NodeTags,
        Table::Channels,
        Table::UserProfiles,
        Table::UserProfileNodes,
        Table::Routes,
        Table::RouteNodes,
        Table::RouteObservers,
        Table::RouteResults,
        Table::RouteResultHistory,
        Table::Advertisements,
        Table::Messages,
        Table::EventObservers,
        Table::RawPackets,
        Table::PacketPathHops,
        Table::Telemetry,
        Table::TracePaths,
        Table::RouteRecentMatches,
    ];

    /// Position in [`Table::ALL`], for per-table arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Nodes => "nodes",
            Table::NodeTags => "node_tags",
            Table::Channels => "channels",
            Table::UserProfiles => "user_profiles",
            Table::UserProfileNodes => "user_profile_nodes",
            Table::Routes => "routes",
            Table::RouteNodes => "route_nodes",
            Table::RouteObservers => "route_observers",
            Table::RouteResults => "route_results",
            Table::RouteResultHistory => "route_result_history",
            Table::Advertisements => "advertisements",
            Table::Messages => "messages",
            Table::EventObservers => "event_observers",
            Table::RawPackets => "raw_packets",
            Table::PacketPathHops => "packet_path_hops",
            Table::Telemetry => "telemetry",
            Table::TracePaths => "trace_paths",
            Table::RouteRecentMatches => "route_recent_matches",
        }
    }

    /// The columns the generator fills, in the order it pushes values.
    ///
    /// Every column of the entity (hence of the schema) is listed: a unit test checks that
    /// against `hub_core::entity`, so a schema change cannot silently leave one out.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Nodes => &[
                "id",
                "public_key",
                "name",
                "adv_type",
                "flags",
                "first_seen",
                "last_seen",
                "created_at",
                "updated_at",
                "lat",
                "lon",
                "is_observer",
            ],
            Table::NodeTags => &[
                "id",
                "node_id",
                "key",
                "value",
                "value_type",
                "created_at",
                "updated_at",
            ],
            Table::Channels => &[
                "id",
                "name",
                "key_hex",
                "channel_hash",
                "visibility",
                "enabled",
                "created_at",
                "updated_at",
            ],
            Table::UserProfiles => &[
                "id",
                "user_id",
                "name",
                "callsign",
                "roles",
                "description",
                "url",
                "created_at",
                "updated_at",
            ],
            Table::UserProfileNodes => &["user_profile_id", "node_id", "adopted_at"],
            Table::Routes => &[
                "id",
                "from_label",
                "to_label",
                "description",
                "visibility",
                "match_width",
                "window_hours",
                "packet_count_threshold",
                "clear_threshold",
                "max_hop_span",
                "enabled",
                "reversible",
                "max_path_length",
                "created_by",
                "created_at",
                "updated_at",
            ],
            Table::RouteNodes => &[
                "id",
                "created_at",
                "updated_at",
                "route_id",
                "node_id",
                "position",
                "expected_hash",
            ],
            Table::RouteObservers => &["id", "created_at", "updated_at", "route_id", "node_id"],
            Table::RouteResults => &[
                "id",
                "route_id",
                "state",
                "quality",
                "matched_count",
                "threshold",
                "effective_clear",
                "evaluated_at",
                "quality_avg",
                "created_at",
                "updated_at",
            ],
            Table::RouteResultHistory => &[
                "id",
                "route_id",
                "date",
                "quality",
                "state",
                "matched_count",
                "evaluated_at",
                "created_at",
                "updated_at",
            ],
            Table::Advertisements => &[
                "id",
                "observer_node_id",
                "node_id",
                "public_key",
                "name",
                "adv_type",
                "flags",
                "received_at",
                "created_at",
                "updated_at",
                "event_hash",
                "route_type",
                "advert_timestamp",
                "packet_hash",
            ],
            Table::Messages => &[
                "id",
                "observer_node_id",
                "message_type",
                "pubkey_prefix",
                "channel_idx",
                "text",
                "path_len",
                "txt_type",
                "signature",
                "snr",
                "sender_timestamp",
                "received_at",
                "created_at",
                "updated_at",
                "event_hash",
                "packet_hash",
                "path_prefix",
                "sender_normalized",
                "spam_score",
            ],
            Table::EventObservers => &[
                "id",
                "event_type",
                "event_hash",
                "observer_node_id",
                "snr",
                "path_len",
                "observed_at",
                "created_at",
                "updated_at",
            ],
            Table::RawPackets => &[
                "id",
                "observer_node_id",
                "packet_hash",
                "raw_hex",
                "packet_type",
                "payload_type",
                "event_type",
                "channel_idx",
                "source_pubkey_prefix",
                "route_type",
                "path_len",
                "snr",
                "decoded",
                "received_at",
                "created_at",
                "updated_at",
                "path_hash_bytes",
                "event_hash",
            ],
            Table::PacketPathHops => &[
                "id",
                "created_at",
                "updated_at",
                "raw_packet_id",
                "position",
                "node_hash",
                "packet_hash",
                "event_hash",
                "received_at",
                "observer_node_id",
            ],
            Table::Telemetry => &[
                "id",
                "observer_node_id",
                "node_id",
                "node_public_key",
                "lpp_data",
                "parsed_data",
                "received_at",
                "created_at",
                "updated_at",
                "event_hash",
            ],
            Table::TracePaths => &[
                "id",
                "observer_node_id",
                "initiator_tag",
                "path_len",
                "flags",
                "auth",
                "path_hashes",
                "snr_values",
                "hop_count",
                "received_at",
                "created_at",
                "updated_at",
                "event_hash",
            ],
            Table::RouteRecentMatches => &[
                "id",
                "created_at",
                "updated_at",
                "route_id",
                "raw_packet_id",
                "first_position",
                "last_position",
            ],
        }
    }

    /// The table whose rows this table's rows reference while both are being generated
    /// together: a chunk of this table may only be inserted once its parent rows are.
    pub fn parent(self) -> Option<Table> {
        match self {
            Table::PacketPathHops => Some(Table::RawPackets),
            _ => None,
        }
    }

    /// Rows per full chunk of this table.
    pub fn chunk_rows(self) -> usize {
        (MAX_PARAMS / self.columns().len()).min(MAX_ROWS)
    }
}

/// `rows` rows of `table`, values flattened row by row in [`Table::columns`] order.
#[derive(Debug)]
pub struct Chunk {
    /// The table.
    pub table: Table,
    /// Number of rows.
    pub rows: usize,
    /// `rows * table.columns().len()` values.
    pub values: Vec<Value>,
}

/// `INSERT INTO "table" ("a", "b") VALUES (?, ?), (?, ?)...` for `rows` rows.
///
/// Identifiers are double-quoted (`node_tags.key` is a keyword); PostgreSQL gets numbered
/// placeholders.
pub fn insert_sql(backend: DbBackend, table: Table, rows: usize) -> String {
    let columns = table.columns();
    let mut sql = format!("INSERT INTO \"{}\" (", table.name());
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('"');
        sql.push_str(column);
        sql.push('"');
    }
    sql.push_str(") VALUES ");
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push(',');
            }
            n += 1;
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::entity;
    use sea_orm::{EntityTrait, IdenStatic, Iterable};
    use std::collections::BTreeSet;

    fn entity_columns<E: EntityTrait>() -> (String, BTreeSet<String>) {
        (
            E::default().table_name().to_string(),
            E::Column::iter().map(|c| c.as_str().to_string()).collect(),
        )
    }

    #[test]
    fn columns_match_the_entities() {
        let entities = [
            entity_columns::<entity::nodes::Entity>(),
            entity_columns::<entity::node_tags::Entity>(),
            entity_columns::<entity::channels::Entity>(),
            entity_columns::<entity::user_profiles::Entity>(),
            entity_columns::<entity::user_profile_nodes::Entity>(),
            entity_columns::<entity::routes::Entity>(),
            entity_columns::<entity::route_nodes::Entity>(),
            entity_columns::<entity::route_observers::Entity>(),
            entity_columns::<entity::route_results::Entity>(),
            entity_columns::<entity::route_result_history::Entity>(),
            entity_columns::<entity::advertisements::Entity>(),
            entity_columns::<entity::messages::Entity>(),
            entity_columns::<entity::event_observers::Entity>(),
            entity_columns::<entity::raw_packets::Entity>(),
            entity_columns::<entity::packet_path_hops::Entity>(),
            entity_columns::<entity::telemetry::Entity>(),
            entity_columns::<entity::trace_paths::Entity>(),
            entity_columns::<entity::route_recent_matches::Entity>(),
        ];
        for (table, (name, columns)) in Table::ALL.iter().zip(entities) {
            assert_eq!(table.name(), name);
            let ours: BTreeSet<String> = table.columns().iter().map(|c| c.to_string()).collect();
            assert_eq!(
                ours.len(),
                table.columns().len(),
                "{name}: duplicate column"
            );
            assert_eq!(ours, columns, "{name}");
        }
    }

    #[test]
    fn builds_multi_row_inserts() {
        let sql = insert_sql(DbBackend::Sqlite, Table::UserProfileNodes, 2);
        assert_eq!(
            sql,
            "INSERT INTO \"user_profile_nodes\" (\"user_profile_id\", \"node_id\", \"adopted_at\") VALUES (?,?,?),(?,?,?)"
        );
        let sql = insert_sql(DbBackend::Postgres, Table::UserProfileNodes, 2);
        assert!(sql.ends_with("($1,$2,$3),($4,$5,$6)"), "{sql}");
        for table in Table::ALL {
            assert!(table.chunk_rows() * table.columns().len() <= MAX_PARAMS);
            assert!(table.chunk_rows() >= 100);
        }
    }
}
