//! MeshCore Hub's complete schema (alembic head [`crate::ALEMBIC_HEAD`]): its 20 tables with
//! their columns, types, defaults, constraints and indexes, and `alembic_version` stamped with
//! that head, so that MeshCore Hub's own services and migration tool accept a database hub made.
//! (Before the head moved to `a59611449e2a` this created `da69304d8106`'s schema; databases made
//! then are brought to the head by `m20261207_000006_route_perf_head`.)
//!
//! The DDL is the per-backend SQL in `src/sql/`: on SQLite the very text MeshCore Hub leaves in
//! `sqlite_master`, on PostgreSQL its types (`timestamp with time zone`, `json`, `bytea`, ...)
//! and constraint names. A database migrated by an earlier version of this migration (12
//! tables) is completed by `m20261128_000003_complete_schema`.

use sea_orm_migration::prelude::*;

use crate::ddl;

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_meshcore_hub_schema"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in ddl::statements(manager.get_database_backend())? {
            db.execute_unprepared(statement).await?;
        }
        crate::stamp_alembic_version(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in crate::TABLES.iter().rev() {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(*table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    /// All or nothing on SQLite too: a half-created schema would be taken as migrated.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}
