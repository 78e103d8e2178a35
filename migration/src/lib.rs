//! Schema migrations for hub.
//!
//! The schema is MeshCore Hub's (the Python service's) so that either server can run on the
//! same database. A database that service created already has every table but no
//! `seaql_migrations` table; `hub_core::db` detects that and leaves it untouched.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_meshcore_hub_schema;
mod m20261126_000002_read_indexes;

/// Every migration of hub, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_meshcore_hub_schema::Migration),
            Box::new(m20261126_000002_read_indexes::Migration),
        ]
    }
}

/// The tables of the MeshCore Hub schema that hub reads, in creation order.
pub const TABLES: &[&str] = &[
    "nodes",
    "node_tags",
    "advertisements",
    "messages",
    "channels",
    "user_profiles",
    "user_profile_nodes",
    "event_observers",
    "routes",
    "route_results",
    "route_result_history",
    "raw_packets",
];

/// A named, idempotent index on `columns` of `table`.
pub(crate) fn index(name: &str, table: &str, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Alias::new(table)).if_not_exists();
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.to_owned()
}

pub(crate) fn unique_index(name: &str, table: &str, columns: &[&str]) -> IndexCreateStatement {
    index(name, table, columns).unique().to_owned()
}
