//! hub's read indexes on a database MeshCore Hub manages: `hub-api migrate --read-indexes`
//! adds them on request, and `serve` says once at startup when they are missing from a
//! database large enough to need them (docs/upgrading.md).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

/// The tables whose size makes the indexes worth having, biggest first.
const BIG_TABLES: [&str; 3] = ["raw_packets", "messages", "advertisements"];

/// Rows in one of the big tables from which uncached reads without hub's indexes take long
/// enough to notice (hundreds of milliseconds on the `large` seed; see docs/benchmarks.md).
pub const LARGE_TABLE_ROWS: u64 = 100_000;

/// Creates the missing read indexes and returns their names (empty when all exist).
pub async fn create(db: &DatabaseConnection) -> Result<Vec<&'static str>, DbErr> {
    migration::read_indexes::create_missing(db).await
}

/// The startup hint: `Some(message)` when hub's read indexes are missing and a big table
/// has at least `min_rows` rows. Counting stops at `min_rows`, so this stays cheap.
pub async fn missing_hint(db: &DatabaseConnection, min_rows: u64) -> Result<Option<String>, DbErr> {
    let missing = migration::read_indexes::missing(db).await?;
    if missing.is_empty() {
        return Ok(None);
    }
    let mut large = None;
    for table in BIG_TABLES {
        if at_least(db, table, min_rows).await? {
            large = Some(table);
            break;
        }
    }
    Ok(large.map(|table| {
        format!(
            "{} of hub's {} read indexes are missing and {table} has at least {min_rows} rows: \
             uncached lists and dashboards will be slow; `hub-api migrate --read-indexes` adds \
             them (docs/upgrading.md)",
            missing.len(),
            migration::read_indexes::all().count()
        )
    }))
}

/// Whether `table` has at least `min_rows` rows, reading at most that many.
async fn at_least(db: &DatabaseConnection, table: &str, min_rows: u64) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT {min_rows}) AS bounded");
    let found: i64 = match db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
    {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(found).unwrap_or(0) >= min_rows)
}
