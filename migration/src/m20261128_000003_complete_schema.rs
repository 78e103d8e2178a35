//! Completes a database that an earlier hub migrated, when `m20261126_000001` created only the
//! 12 tables hub read then (with `timestamp` columns on PostgreSQL) and hub's read indexes had
//! MeshCore Hub-style `ix_` names.
//!
//! Creates the missing tables and indexes, stamps `alembic_version`, renames hub's read
//! indexes to [`crate::HUB_INDEX_PREFIX`] names, and on PostgreSQL converts `timestamp`
//! columns to `timestamptz` (the stored naive values are UTC) and brings defaults and
//! constraint names to MeshCore Hub's. On a database the current `m20261126_000001` made,
//! every step finds nothing to do.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{HUB_INDEX_PREFIX, ddl, m20261126_000002_read_indexes};

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000003_complete_schema"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        for statement in ddl::statements(backend)? {
            db.execute_unprepared(&ddl::if_not_exists(statement))
                .await?;
        }
        crate::stamp_alembic_version(manager).await?;
        rename_read_indexes(manager).await?;
        if backend == DbBackend::Postgres {
            convert_postgres_columns(manager).await?;
            name_postgres_constraints(manager).await?;
        }
        Ok(())
    }

    /// The upgrade cannot be undone: the earlier schema was a subset of this one.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// A double-quoted SQL identifier.
fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Gives hub's read indexes that still have their old `ix_` name the prefixed one.
async fn rename_read_indexes(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let db = manager.get_connection();
    for (name, table, columns) in m20261126_000002_read_indexes::INDEXES {
        let Some(old_name) = name
            .strip_prefix(HUB_INDEX_PREFIX)
            .map(|rest| format!("ix_{rest}"))
        else {
            continue;
        };
        if backend == DbBackend::Postgres {
            db.execute_unprepared(&format!(
                "ALTER INDEX IF EXISTS {} RENAME TO {}",
                quoted(&old_name),
                quoted(name)
            ))
            .await?;
            continue;
        }
        let exists = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                [old_name.clone().into()],
            ))
            .await?
            .is_some();
        if exists {
            // SQLite has no ALTER INDEX ... RENAME.
            db.execute_unprepared(&format!("DROP INDEX {}", quoted(&old_name)))
                .await?;
            manager
                .create_index(crate::index(name, table, columns))
                .await?;
        }
    }
    Ok(())
}

/// Converts `timestamp` columns that MeshCore Hub declares `timestamptz`, and sets every
/// column default that differs from MeshCore Hub's.
async fn convert_postgres_columns(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let found = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text, column_name::text, data_type::text, column_default::text \
             FROM information_schema.columns WHERE table_schema = current_schema()",
        ))
        .await?;
    let mut current = std::collections::HashMap::new();
    for row in found {
        let table: String = row.try_get_by_index(0)?;
        let column: String = row.try_get_by_index(1)?;
        let data_type: String = row.try_get_by_index(2)?;
        let default: Option<String> = row.try_get_by_index(3)?;
        current.insert((table, column), (data_type, default));
    }
    for column in ddl::postgres_columns() {
        let Some((data_type, default)) =
            current.get(&(column.table.to_string(), column.name.to_string()))
        else {
            return Err(DbErr::Migration(format!(
                "{}.{} is missing; hub cannot add columns to an existing table",
                column.table, column.name
            )));
        };
        let alter = format!(
            "ALTER TABLE {} ALTER COLUMN {}",
            quoted(column.table),
            quoted(column.name)
        );
        if column.data_type == "timestamp with time zone"
            && data_type == "timestamp without time zone"
        {
            // hub always wrote naive UTC, so the stored values are UTC.
            db.execute_unprepared(&format!(
                "{alter} TYPE timestamp with time zone USING {} AT TIME ZONE 'UTC'",
                quoted(column.name)
            ))
            .await?;
        }
        // Re-read after a type change would show the old default recast; setting it from the
        // DDL is what makes it MeshCore Hub's.
        if default.as_deref() != column.default || column.data_type != data_type.as_str() {
            match column.default {
                Some(expression) => {
                    db.execute_unprepared(&format!("{alter} SET DEFAULT {expression}"))
                        .await?
                }
                None if default.is_some() => {
                    db.execute_unprepared(&format!("{alter} DROP DEFAULT"))
                        .await?
                }
                None => continue,
            };
        }
    }
    Ok(())
}

/// Renames constraints that have MeshCore Hub's definition under another name, and adds the
/// ones that are missing.
async fn name_postgres_constraints(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let targets = ddl::postgres_constraints();
    let found = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT t.relname::text, c.conname::text, pg_get_constraintdef(c.oid) \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'f')",
        ))
        .await?;
    let mut existing: Vec<(String, String, String)> = Vec::new();
    for row in found {
        existing.push((
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
        ));
    }
    for target in &targets {
        let table = quoted(target.table);
        if existing
            .iter()
            .any(|(t, name, _)| t == target.table && name == target.name)
        {
            continue;
        }
        let same_definition = existing.iter().position(|(t, name, def)| {
            t == target.table
                && def == target.definition
                && !targets
                    .iter()
                    .any(|other| other.table == target.table && other.name == name)
        });
        let sql = match same_definition {
            Some(index) => format!(
                "ALTER TABLE {table} RENAME CONSTRAINT {} TO {}",
                quoted(&existing[index].1),
                quoted(target.name)
            ),
            None => format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} {}",
                quoted(target.name),
                target.definition
            ),
        };
        db.execute_unprepared(&sql).await?;
        match same_definition {
            Some(index) => existing[index].1 = target.name.to_string(),
            None => existing.push((
                target.table.to_string(),
                target.name.to_string(),
                target.definition.to_string(),
            )),
        }
    }
    Ok(())
}
