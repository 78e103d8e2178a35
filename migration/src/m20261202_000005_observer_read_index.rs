//! The `observed_by` filter of every list (adverts, messages, packets, telemetry, trace paths)
//! as an index-only look-up (docs/benchmarks.md, "Every filter").

use crate::ReadIndexMigration;

pub(crate) const MIGRATION: ReadIndexMigration = ReadIndexMigration {
    name: "m20261202_000005_observer_read_index",
    indexes: INDEXES,
};

/// (name, table, columns), each named for the query it serves.
pub(crate) const INDEXES: &[(&str, &str, &[&str])] = &[
    // The events one observer heard of one type: MeshCore Hub's index on observer_node_id
    // alone makes SQLite read every observation row of the observer (all event types) to
    // check its type and take its hash; 8,700 adverts of one observer at `large` took
    // 49 ms that way and take 15 ms from this index.
    (
        "hub_ix_event_observers_observer_type_hash",
        "event_observers",
        &["observer_node_id", "event_type", "event_hash"],
    ),
];
