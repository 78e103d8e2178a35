//! The `packet_type` filter of the packet list, newest first (docs/benchmarks.md, "Every
//! filter").

use crate::ReadIndexMigration;

pub(crate) const MIGRATION: ReadIndexMigration = ReadIndexMigration {
    name: "m20261207_000007_packet_type_read_index",
    indexes: INDEXES,
};

/// (name, table, columns), each named for the query it serves.
pub(crate) const INDEXES: &[(&str, &str, &[&str])] = &[
    // One packet type, newest first, and today's rows of it: with MeshCore Hub's index on
    // packet_type alone, SQLite (which has no statistics on the table) reads every packet of
    // the type and sorts them for a page, and reads them all again to count today's; a
    // network's commonest type is most of the table.
    (
        "hub_ix_raw_packets_packet_type_received_at",
        "raw_packets",
        &["packet_type", "received_at"],
    ),
];
