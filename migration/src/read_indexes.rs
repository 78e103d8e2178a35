//! hub's read indexes as one list, for `hub-api migrate --read-indexes` and the startup hint
//! of `serve` on a database MeshCore Hub manages (where no migration runs).

use crate::{
    m20261126_000002_read_indexes, m20261202_000004_fast_read_indexes,
    m20261202_000005_observer_read_index, m20261207_000007_packet_type_read_index,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// Every read index of hub as (name, table, columns), in creation order.
pub fn all() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static [&'static str])>
{
    m20261126_000002_read_indexes::INDEXES
        .iter()
        .chain(m20261202_000004_fast_read_indexes::INDEXES)
        .chain(m20261202_000005_observer_read_index::INDEXES)
        .chain(m20261207_000007_packet_type_read_index::INDEXES)
}

/// The names of the indexes in the database's current schema.
async fn existing(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'index'",
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    rows.iter().map(|row| row.try_get_by_index(0)).collect()
}

/// The names of hub's read indexes the database lacks.
pub async fn missing(db: &DatabaseConnection) -> Result<Vec<&'static str>, DbErr> {
    let existing = existing(db).await?;
    Ok(all()
        .map(|(name, _, _)| *name)
        .filter(|name| !existing.iter().any(|e| e == name))
        .collect())
}

/// Creates hub's read indexes the database lacks and returns their names. Each is one
/// `CREATE INDEX IF NOT EXISTS`; nothing else in the schema changes.
pub async fn create_missing(db: &DatabaseConnection) -> Result<Vec<&'static str>, DbErr> {
    let missing = missing(db).await?;
    let wanted: Vec<_> = all()
        .filter(|(name, _, _)| missing.contains(name))
        .copied()
        .collect();
    crate::create_indexes(&SchemaManager::new(db), &wanted).await?;
    Ok(missing)
}
