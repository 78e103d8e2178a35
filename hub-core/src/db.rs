//! Database connection and schema preparation.
//!
//! SQLite gets WAL, a busy timeout, foreign keys and a pool of several connections (sea-orm
//! defaults SQLite to one connection, which would serialize every request). A database that
//! MeshCore Hub's Python service created is recognised and never altered.

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use std::path::Path;
use std::time::Duration;

/// How long a SQLite connection waits for a writer's lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Turns the accepted URL forms into one sqlx understands.
///
/// Besides sqlx's own forms (`sqlite://relative.db`, `sqlite:///absolute/path.db`,
/// `postgres://...`), MeshCore Hub's SQLAlchemy URLs work unchanged: `sqlite:///./data/x.db`
/// and `sqlite:///x.db` (relative), `sqlite:////abs/x.db` (absolute), and
/// `postgresql+asyncpg://...`. Returns a message for anything that is not SQLite or PostgreSQL.
///
/// ```
/// use hub_core::db::normalize_database_url;
/// assert_eq!(normalize_database_url("sqlite:///./data/meshcore.db").unwrap(), "sqlite://./data/meshcore.db");
/// assert_eq!(normalize_database_url("sqlite:///meshcore.db").unwrap(), "sqlite://meshcore.db");
/// assert_eq!(normalize_database_url("sqlite:////var/lib/hub.db").unwrap(), "sqlite:///var/lib/hub.db");
/// assert_eq!(normalize_database_url("sqlite:///var/lib/hub.db").unwrap(), "sqlite:///var/lib/hub.db");
/// assert_eq!(normalize_database_url("postgresql+asyncpg://u:p@db/hub").unwrap(), "postgres://u:p@db/hub");
/// assert!(normalize_database_url("mysql://db/hub").is_err());
/// ```
pub fn normalize_database_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("sqlite:////") {
        return Ok(format!("sqlite:///{rest}"));
    }
    if let Some(rest) = url.strip_prefix("sqlite:///") {
        // SQLAlchemy's relative forms; a bare file name is never meant to live at `/`.
        let path = rest.split('?').next().unwrap_or(rest);
        if rest.starts_with("./") || rest.starts_with("../") || !path.contains('/') {
            return Ok(format!("sqlite://{rest}"));
        }
        return Ok(url.to_string());
    }
    if url.starts_with("sqlite:") {
        return Ok(url.to_string());
    }
    for scheme in [
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql://",
        "postgres://",
    ] {
        if let Some(rest) = url.strip_prefix(scheme) {
            return Ok(format!("postgres://{rest}"));
        }
    }
    if url.is_empty() {
        return Err("must not be empty".into());
    }
    Err(format!(
        "unsupported database {:?}: expected sqlite://path/to/file.db or postgres://user:password@host/db",
        url.split(':').next().unwrap_or(url)
    ))
}

/// The URL with any password replaced by `***`, for logs and the startup banner.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Opens a pool to `url` (any form [`normalize_database_url`] accepts).
///
/// For a SQLite file the parent directory and the file are created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let url = normalize_database_url(url).map_err(DbErr::Custom)?;
    let mut options = ConnectOptions::new(url.clone());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        let parent =
            sqlite_file(&url).and_then(|file| Path::new(file).parent().map(Path::to_path_buf));
        if let Some(dir) = parent.filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
        // In-memory databases are per connection, so they must stay on exactly one.
        let pool_size = if url.contains(":memory:") || url.contains("mode=memory") {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(4, |n| n.get() as u32 * 2)
                .max(4)
        };
        options
            .max_connections(pool_size)
            .min_connections(1)
            // A SQLite connection is a file handle in this process: it cannot go stale the way
            // a network connection can, and pinging it before every query costs a round trip
            // to sqlx's worker thread.
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
                opts.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
    } else {
        options.max_connections(16).min_connections(1);
    }
    options.connect_timeout(Duration::from_secs(10));
    Database::connect(options).await
}

/// The file path of a `sqlite://` URL, or `None` for in-memory databases.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// What [`prepare_schema`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// hub manages the schema; this many migrations were applied now.
    Migrated {
        /// Migrations applied by this call (0 when already current).
        applied: usize,
    },
    /// A database created by MeshCore Hub's Python service: read as it is, never altered.
    ExternallyManaged,
}

/// Brings a hub-managed database up to date, or recognises one the Python service manages.
///
/// A database that has a `nodes` table but no `seaql_migrations` table was created by the
/// Python service (alembic); hub reads it unchanged and leaves its schema to that service.
pub async fn prepare_schema(db: &DatabaseConnection) -> Result<SchemaState, DbErr> {
    if table_exists(db, "nodes").await? && !table_exists(db, "seaql_migrations").await? {
        return Ok(SchemaState::ExternallyManaged);
    }
    let applied = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await?;
    Ok(SchemaState::Migrated { applied })
}

/// Whether `table` exists in the connected database.
pub async fn table_exists(db: &DatabaseConnection, table: &str) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
        _ => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [table.into()]))
        .await?;
    Ok(row.is_some())
}

/// Checks that the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://hub:s3cret@db:5432/hub"),
            "postgres://hub:***@db:5432/hub"
        );
        assert_eq!(
            redact_url("sqlite://./data/hub.db"),
            "sqlite://./data/hub.db"
        );
    }

    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(
            sqlite_file("sqlite://./data/hub.db?mode=rwc"),
            Some("./data/hub.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
    }

    #[tokio::test]
    async fn migrates_a_new_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/hub.db", dir.path().display());
        let db = connect(&url).await.unwrap();
        let first = prepare_schema(&db).await.unwrap();
        assert!(matches!(first, SchemaState::Migrated { applied } if applied >= 2));
        assert_eq!(
            prepare_schema(&db).await.unwrap(),
            SchemaState::Migrated { applied: 0 }
        );
        for table in migration::TABLES {
            assert!(table_exists(&db, table).await.unwrap(), "{table}");
        }
        let mode = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA journal_mode",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mode.try_get_by_index::<String>(0).unwrap(), "wal");
    }
}
