//! Brings a database hub made at MeshCore Hub's alembic head `da69304d8106` to its head
//! `a59611449e2a` ("route evaluator performance remediation", MeshCore Hub v0.18), doing what
//! that revision's upgrade does:
//!
//! - on PostgreSQL, rebuilds `ix_packet_path_hops_raw_packet_id_position` as a covering index
//!   (`INCLUDE (node_hash, packet_hash, event_hash, received_at, observer_node_id)`), without
//!   blocking writes (`CONCURRENTLY`, as MeshCore Hub does); SQLite keeps its plain index, which
//!   MeshCore Hub leaves untouched too;
//! - clamps `routes.window_hours` to 12, the largest window MeshCore Hub accepts from that
//!   revision on;
//! - moves `alembic_version` from `da69304d8106` to [`crate::ALEMBIC_HEAD`], and only from that
//!   revision: a newer one that MeshCore Hub's own migration tool wrote stays.
//!
//! Every step checks before it acts, so a run interrupted part way (a failed concurrent build
//! leaves an invalid index behind) is finished by the next, and a database that
//! `m20261126_000001` made at the head (or that alembic upgraded) finds nothing to do.

use sea_orm_migration::SchemaManagerConnection;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{ALEMBIC_HEAD, PREVIOUS_ALEMBIC_HEAD, ddl};

pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000006_route_perf_head"
    }
}

/// The index that `a59611449e2a` makes covering on PostgreSQL.
pub(crate) const COVERING_INDEX: &str = "ix_packet_path_hops_raw_packet_id_position";

/// The longest `routes.window_hours` MeshCore Hub accepts from `a59611449e2a` on.
pub(crate) const WINDOW_HOURS_MAX: i32 = 12;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            rebuild_covering_index(manager).await?;
        }
        // The data steps together, so that the stamp never claims a clamp that did not happen.
        let txn = manager.begin().await?;
        let db = txn.get_connection();
        let backend = txn.get_database_backend();
        let placeholders = if backend == DbBackend::Postgres {
            ("$1", "$2")
        } else {
            ("?", "?")
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE routes SET window_hours = {} WHERE window_hours > {}",
                placeholders.0, placeholders.1
            ),
            [WINDOW_HOURS_MAX.into(), WINDOW_HOURS_MAX.into()],
        ))
        .await?;
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "UPDATE alembic_version SET version_num = {} WHERE version_num = {}",
                placeholders.0, placeholders.1
            ),
            [ALEMBIC_HEAD.into(), PREVIOUS_ALEMBIC_HEAD.into()],
        ))
        .await?;
        crate::stamp_alembic_version(&txn).await?;
        txn.commit().await
    }

    /// Nothing to undo that matters: the clamped windows cannot be restored (MeshCore Hub's
    /// downgrade cannot either), and the covering index serves every query the plain one did.
    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }

    /// `CREATE INDEX CONCURRENTLY` cannot run inside a transaction; the data steps take one of
    /// their own.
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }
}

/// The part of an index definition from `USING` on: the method, the columns and `INCLUDE`,
/// without the schema-qualified names that precede it.
fn definition_body(definition: &str) -> Option<&str> {
    definition.find(" USING ").map(|at| &definition[at + 1..])
}

/// Rebuilds [`COVERING_INDEX`] as `src/sql/postgres.sql` defines it, unless it already is
/// that and valid.
async fn rebuild_covering_index(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let target = ddl::index_statement(DbBackend::Postgres, COVERING_INDEX)?;
    let db = manager.get_connection();
    let found = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = $1",
            [COVERING_INDEX.into()],
        ))
        .await?;
    if let Some(row) = found {
        let valid: bool = row.try_get_by_index(0)?;
        let definition: String = row.try_get_by_index(1)?;
        if valid && definition_body(&definition) == definition_body(target) {
            return Ok(());
        }
    }
    let concurrent = target
        .strip_prefix("CREATE INDEX ")
        .map(|rest| format!("CREATE INDEX CONCURRENTLY {rest}"))
        .ok_or_else(|| DbErr::Migration(format!("{COVERING_INDEX}: not a CREATE INDEX")))?;
    execute_without_statement_timeout(
        manager,
        &[
            format!("DROP INDEX CONCURRENTLY IF EXISTS {COVERING_INDEX}"),
            concurrent,
        ],
    )
    .await
}

/// Runs `statements` in order on one pooled connection with no statement timeout, and gives
/// the connection back with its own. `serve` migrates on a pool whose connections stop any
/// statement after `DATABASE_STATEMENT_TIMEOUT`, and building this index on a large
/// `packet_path_hops` takes longer; `SET LOCAL` would need a transaction, which
/// `CONCURRENTLY` refuses.
async fn execute_without_statement_timeout(
    manager: &SchemaManager<'_>,
    statements: &[String],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::sqlx::{self, AssertSqlSafe};

    let SchemaManagerConnection::Connection(db) = manager.get_connection() else {
        // In a transaction already (not how the migrator runs this migration): no pool to
        // take a connection from.
        for statement in statements {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        return Ok(());
    };
    let failed = |err: sqlx::Error| DbErr::Migration(format!("{COVERING_INDEX}: {err}"));
    let mut connection = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(failed)?;
    sqlx::raw_sql("SET statement_timeout = 0")
        .execute(&mut *connection)
        .await
        .map_err(failed)?;
    let mut outcome = Ok(());
    for statement in statements {
        if let Err(err) = sqlx::raw_sql(AssertSqlSafe(statement.as_str()))
            .execute(&mut *connection)
            .await
        {
            outcome = Err(failed(err));
            break;
        }
    }
    if sqlx::raw_sql("RESET statement_timeout")
        .execute(&mut *connection)
        .await
        .is_err()
    {
        // Never hand the pool a connection without its timeout.
        connection.detach();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_index_definitions_from_using_on() {
        assert_eq!(
            definition_body(
                "CREATE INDEX ix ON meshcorehub.packet_path_hops USING btree (raw_packet_id) \
                 INCLUDE (node_hash)"
            ),
            definition_body(
                "CREATE INDEX ix ON packet_path_hops USING btree (raw_packet_id) INCLUDE (node_hash)"
            )
        );
        assert_ne!(
            definition_body("CREATE INDEX ix ON t USING btree (a)"),
            definition_body("CREATE INDEX ix ON t USING btree (a) INCLUDE (b)")
        );
        assert_eq!(definition_body("CREATE INDEX ix ON t (a)"), None);
    }

    #[test]
    fn the_postgres_ddl_has_the_covering_index_and_sqlite_the_plain_one() {
        assert!(
            ddl::index_statement(DbBackend::Postgres, COVERING_INDEX)
                .unwrap()
                .ends_with(
                    "USING btree (raw_packet_id, \"position\") INCLUDE (node_hash, packet_hash, \
                     event_hash, received_at, observer_node_id)"
                )
        );
        assert!(
            !ddl::index_statement(DbBackend::Sqlite, COVERING_INDEX)
                .unwrap()
                .contains("INCLUDE")
        );
    }
}
