//! Schema migrations for hub.
//!
//! The schema is MeshCore Hub's (the Python service's), complete and exact, so that either
//! server can run on the same database and MeshCore Hub's migration tool (alembic) sees a
//! database hub made as current. A database that service created already has every table but
//! no `seaql_migrations` table; `hub_core::db` detects that and leaves it untouched.

pub use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

mod ddl;
mod m20261126_000001_meshcore_hub_schema;
mod m20261126_000002_read_indexes;
mod m20261128_000003_complete_schema;
mod m20261202_000004_fast_read_indexes;
mod m20261202_000005_observer_read_index;
mod m20261207_000006_route_perf_head;
mod m20261207_000007_packet_type_read_index;
pub mod read_indexes;

/// Every migration of hub, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_meshcore_hub_schema::Migration),
            Box::new(m20261126_000002_read_indexes::MIGRATION),
            Box::new(m20261128_000003_complete_schema::Migration),
            Box::new(m20261202_000004_fast_read_indexes::MIGRATION),
            Box::new(m20261202_000005_observer_read_index::MIGRATION),
            Box::new(m20261207_000006_route_perf_head::Migration),
            Box::new(m20261207_000007_packet_type_read_index::MIGRATION),
        ]
    }
}

/// The alembic revision of MeshCore Hub whose schema hub creates: `a59611449e2a`
/// (MeshCore Hub v0.18's route-performance migration, still its head in v0.21).
pub const ALEMBIC_HEAD: &str = "a59611449e2a";

/// The alembic revision hub stamped before [`ALEMBIC_HEAD`]; `m20261207_000006_route_perf_head`
/// moves a hub database from it to the head.
pub const PREVIOUS_ALEMBIC_HEAD: &str = "da69304d8106";

/// The alembic revisions of MeshCore Hub whose schema hub's entities are checked against
/// (tests/schema.rs), oldest first. A MeshCore Hub database at any of them is read as it is;
/// they differ only in an index and in data (see `m20261207_000006_route_perf_head`).
pub const KNOWN_ALEMBIC_REVISIONS: &[&str] = &[PREVIOUS_ALEMBIC_HEAD, ALEMBIC_HEAD];

/// The name prefix of the indexes hub adds for its own reads. MeshCore Hub names its indexes
/// `ix_...` / `uq_...`, so these can never collide with one of its migrations.
pub const HUB_INDEX_PREFIX: &str = "hub_ix_";

/// The tables of the MeshCore Hub schema, in creation order (referenced tables first).
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
    "events_log",
    "telemetry",
    "trace_paths",
    "route_nodes",
    "route_observers",
    "packet_path_hops",
    "route_recent_matches",
    "alembic_version",
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

/// A list of indexes as (name, table, columns).
pub(crate) type IndexList = [(&'static str, &'static str, &'static [&'static str])];

/// Creates each index of `indexes` that does not exist yet.
pub(crate) async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: &IndexList,
) -> Result<(), DbErr> {
    for (name, table, columns) in indexes {
        manager.create_index(index(name, table, columns)).await?;
    }
    Ok(())
}

/// Drops every index of `indexes`.
pub(crate) async fn drop_indexes(
    manager: &SchemaManager<'_>,
    indexes: &IndexList,
) -> Result<(), DbErr> {
    for (name, table, _) in indexes {
        manager
            .drop_index(
                Index::drop()
                    .name(*name)
                    .table(Alias::new(*table))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// A migration that only adds read indexes: `indexes` created on `up`, dropped on `down`.
pub(crate) struct ReadIndexMigration {
    /// The migration's name in `seaql_migrations`.
    pub(crate) name: &'static str,
    pub(crate) indexes: &'static IndexList,
}

impl MigrationName for ReadIndexMigration {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ReadIndexMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(manager, self.indexes).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_indexes(manager, self.indexes).await
    }
}

/// Records [`ALEMBIC_HEAD`] in `alembic_version` unless it already holds a revision: alembic
/// keeps exactly one row there, and a revision it wrote itself must not be overwritten.
pub(crate) async fn stamp_alembic_version(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let stamped = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT version_num FROM alembic_version",
        ))
        .await?
        .is_some();
    if !stamped {
        let placeholder = if backend == DbBackend::Postgres {
            "$1"
        } else {
            "?"
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("INSERT INTO alembic_version (version_num) VALUES ({placeholder})"),
            [ALEMBIC_HEAD.into()],
        ))
        .await?;
    }
    Ok(())
}
