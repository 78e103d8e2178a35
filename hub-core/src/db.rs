//! Database connection and schema preparation.
//!
//! SQLite gets WAL, a busy timeout, foreign keys and a pool of several connections (sea-orm
//! defaults SQLite to one connection, which would serialize every request). A database that
//! MeshCore Hub's Python service created is recognised and never altered.

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::path::Path;
use std::time::Duration;

/// How long one statement of `serve` may take by default (`DATABASE_STATEMENT_TIMEOUT`):
/// PostgreSQL's `statement_timeout`, SQLite's busy timeout and the pool's acquire timeout.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a SQLite connection opened without a statement timeout (`migrate`, `seed`)
/// waits for a writer's lock before failing.
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

/// A database to open: a URL in any form [`normalize_database_url`] accepts, and the
/// PostgreSQL schema its tables live in.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseTarget {
    /// The database URL; may hold a password, so it is never printed as it is.
    pub url: String,
    /// PostgreSQL schema put first on every connection's `search_path` (`DATABASE_SCHEMA`);
    /// `None` keeps the server's (or the URL's `options=-csearch_path=...`) search path.
    /// Ignored for SQLite, which has no schemas.
    pub schema: Option<String>,
}

impl DatabaseTarget {
    /// A target with no schema of its own.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
        }
    }

    /// Whether the URL names a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        normalize_database_url(&self.url).is_ok_and(|url| url.starts_with("postgres://"))
    }

    /// The URL with its password redacted, and the schema when one is set, for the banner.
    pub fn describe(&self) -> String {
        match (&self.schema, self.is_postgres()) {
            (Some(schema), true) => format!("{} (schema {schema})", redact_url(&self.url)),
            _ => redact_url(&self.url),
        }
    }
}

// The URL may carry a password: `{:?}` shows it redacted.
impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseTarget")
            .field("url", &redact_url(&self.url))
            .field("schema", &self.schema)
            .finish()
    }
}

/// Opens a pool to `url` (any form [`normalize_database_url`] accepts).
///
/// For a SQLite file the parent directory and the file are created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_to(&DatabaseTarget::url(url)).await
}

/// Opens a pool to `target` without a statement timeout, for `migrate` and `seed`, whose
/// statements (index builds, bulk inserts) are long on purpose; see `open_pool`.
pub async fn connect_to(target: &DatabaseTarget) -> Result<DatabaseConnection, DbErr> {
    open_pool(target, None).await
}

/// Opens a pool to `target` on which no request waits for the database longer than about
/// `statement_timeout` (`serve`): it bounds PostgreSQL statements (`statement_timeout` on
/// every pooled connection), SQLite's wait for a lock (busy timeout) and the wait for a free
/// pooled connection (acquire timeout). Each of these failures is [`unavailable`], which the
/// API answers with a 503. See `open_pool`.
pub async fn connect_with_timeout(
    target: &DatabaseTarget,
    statement_timeout: Duration,
) -> Result<DatabaseConnection, DbErr> {
    open_pool(target, Some(statement_timeout)).await
}

/// Opens a pool to `target`, with `statement_timeout` when given.
///
/// Every PostgreSQL connection runs with `TimeZone=UTC` (naive datetimes that hub binds are
/// compared with MeshCore Hub's `timestamptz` columns through the session time zone, and
/// `date(...)` groups by UTC day only then; sqlx asks for UTC too, but a URL's
/// `options=-c TimeZone=...` or a server default must not win) and, when the target names a
/// schema, with that schema as its `search_path`. Both are startup options after the URL's
/// own `options`, so they hold on every pooled connection and take precedence over it.
async fn open_pool(
    target: &DatabaseTarget,
    statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, DbErr> {
    let url = normalize_database_url(&target.url).map_err(DbErr::Custom)?;
    let mut options = ConnectOptions::new(url.clone());
    // Statements are logged at debug (`--log-level warn,sqlx=debug` shows each with its
    // time), statements slower than 5 s at warn (reads at startup take a second or two at
    // `large`; a statement past 5 s is worth a look): an operator finds a slow filter
    // without a rebuild.
    options
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, Duration::from_secs(5));
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
            .map_sqlx_sqlite_opts(move |opts: SqliteConnectOptions| {
                opts.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(statement_timeout.unwrap_or(SQLITE_BUSY_TIMEOUT))
                    .foreign_keys(true)
            });
    } else {
        let schema = target.schema.clone();
        options
            .max_connections(16)
            .min_connections(1)
            .map_sqlx_postgres_opts(move |opts: PgConnectOptions| {
                let opts = opts.options([("TimeZone", "UTC")]);
                let opts = match statement_timeout {
                    Some(timeout) => {
                        opts.options([("statement_timeout", timeout.as_millis().to_string())])
                    }
                    None => opts,
                };
                match &schema {
                    Some(schema) => opts.options([("search_path", schema.as_str())]),
                    None => opts,
                }
            });
    }
    options.connect_timeout(Duration::from_secs(10));
    if let Some(timeout) = statement_timeout {
        options.acquire_timeout(timeout);
    }
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

/// What the command preparing the database is for; it decides what hub may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// `serve`: creates hub's tables only in a database that has no tables at all, in a
    /// schema that already exists.
    Serve,
    /// `serve --demo`: like [`Intent::Serve`], and may create the schema of that empty
    /// database.
    ServeDemo,
    /// `migrate` and `seed`: create the schema (`CREATE SCHEMA IF NOT EXISTS`) and migrate
    /// into it, also on a cluster whose other schemas hold other instances' tables.
    Migrate,
}

/// Why [`prepare`] did not touch the database.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Migrating here could hide or damage data; the message says what to set instead.
    #[error("{0}")]
    Refused(String),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Tables whose presence marks a schema as MeshCore Hub's or hub's.
const MARKER_TABLES: [&str; 3] = ["nodes", "alembic_version", "seaql_migrations"];

/// Brings a hub-managed database up to date, or recognises one the Python service manages
/// ([`prepare`] with [`Intent::Migrate`] and no schema of its own).
pub async fn prepare_schema(db: &DatabaseConnection) -> Result<SchemaState, PrepareError> {
    prepare(db, &DatabaseTarget::url(""), Intent::Migrate).await
}

/// Brings a hub-managed database up to date, recognises one the Python service manages, or
/// refuses to create tables where they would not belong.
///
/// In the target schema (PostgreSQL's `current_schema()`, SQLite's one namespace):
/// - `nodes` without `seaql_migrations`: MeshCore Hub's (alembic) database, read unchanged;
/// - `seaql_migrations`: hub's own, migrated up;
/// - other tables only: refused, whatever the intent;
/// - no tables: hub's tables are created, unless MeshCore Hub or hub tables sit in another
///   schema of the same database (the operator most likely forgot `DATABASE_SCHEMA`; only
///   `migrate` with an explicit `DATABASE_SCHEMA` proceeds), or `serve` finds tables
///   elsewhere in the database, or `serve` (without `--demo`) would have to create the schema.
pub async fn prepare(
    db: &DatabaseConnection,
    target: &DatabaseTarget,
    intent: Intent,
) -> Result<SchemaState, PrepareError> {
    let here = tables_in_current_schema(db).await?;
    let has = |table: &str| here.iter().any(|t| t == table);
    if has("nodes") && !has("seaql_migrations") {
        return Ok(SchemaState::ExternallyManaged);
    }
    if !has("seaql_migrations") {
        if !here.is_empty() {
            let mut listed = here.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if here.len() > 5 {
                listed.push_str(", ...");
            }
            return Err(PrepareError::Refused(format!(
                "{} already holds tables that are neither hub's nor MeshCore Hub's ({listed}); \
                 hub creates its tables only in an empty database or schema: point \
                 DATABASE_SCHEMA (PostgreSQL) or DATABASE_URL at one",
                where_label(db, target).await?
            )));
        }
        if db.get_database_backend() == DbBackend::Postgres {
            prepare_empty_postgres_schema(db, target, intent).await?;
        }
    }
    let applied = Migrator::get_pending_migrations(db).await?.len();
    Migrator::up(db, None).await?;
    Ok(SchemaState::Migrated { applied })
}

/// The checks (and `CREATE SCHEMA`) before hub creates its tables in an empty PostgreSQL schema.
async fn prepare_empty_postgres_schema(
    db: &DatabaseConnection,
    target: &DatabaseTarget,
    intent: Intent,
) -> Result<(), PrepareError> {
    let current = current_schema(db).await?;
    let schema_name = target
        .schema
        .clone()
        .or_else(|| current.clone())
        .unwrap_or_else(|| "public".into());
    let marker_list = MARKER_TABLES.map(|t| format!("'{t}'")).join(", ");
    let marked_elsewhere = query_strings(
        db,
        &format!(
            "SELECT DISTINCT schemaname::text FROM pg_catalog.pg_tables \
             WHERE tablename IN ({marker_list}) \
             AND schemaname NOT IN ('pg_catalog', 'information_schema') \
             AND schemaname <> COALESCE(current_schema(), '') ORDER BY 1"
        ),
        vec![],
    )
    .await?;
    let explicit_migrate = intent == Intent::Migrate && target.schema.is_some();
    if let Some(other) = marked_elsewhere.first().filter(|_| !explicit_migrate) {
        return Err(PrepareError::Refused(format!(
            "schema {schema_name:?} has no tables, but MeshCore Hub tables are in schema \
             {other:?} of the same database: set DATABASE_SCHEMA={other} to serve them \
             (to start a new network in schema {schema_name:?} instead, run `hub-api migrate` \
             with DATABASE_SCHEMA={schema_name})"
        )));
    }
    if intent != Intent::Migrate {
        let elsewhere = query_strings(
            db,
            "SELECT schemaname::text || '.' || tablename::text FROM pg_catalog.pg_tables \
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 3",
            vec![],
        )
        .await?;
        if let Some(table) = elsewhere.first() {
            return Err(PrepareError::Refused(format!(
                "schema {schema_name:?} has no tables, but the database is not empty (it holds \
                 {table}): serve creates tables only in an empty database; set \
                 DATABASE_SCHEMA to the schema that holds the network, or create a new one \
                 with `hub-api migrate` and DATABASE_SCHEMA={schema_name}"
            )));
        }
    }
    if current.is_none() {
        let Some(schema) = &target.schema else {
            return Err(PrepareError::Refused(
                "the search_path names no existing schema: set DATABASE_SCHEMA to the schema \
                 that holds the tables"
                    .into(),
            ));
        };
        if intent == Intent::Serve {
            return Err(PrepareError::Refused(format!(
                "schema {schema:?} (DATABASE_SCHEMA) does not exist: create it with \
                 `hub-api migrate` (or `hub-api serve --demo` on an empty database)"
            )));
        }
        // `schema` passed settings validation: a plain identifier, safe to splice.
        db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await?;
        tracing::info!(schema = %schema, "schema created");
    }
    Ok(())
}

/// "the database" or "schema X", for messages.
async fn where_label(db: &DatabaseConnection, target: &DatabaseTarget) -> Result<String, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(match target.url.as_str() {
            "" => "the database".to_string(),
            url => format!("the database {}", redact_url(url)),
        });
    }
    let schema = current_schema(db).await?.or_else(|| target.schema.clone());
    Ok(format!(
        "schema {:?} (DATABASE_SCHEMA)",
        schema.unwrap_or_else(|| "public".into())
    ))
}

/// The first schema of the `search_path` that exists, as PostgreSQL resolves it.
async fn current_schema(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema()::text",
        ))
        .await?;
    Ok(row.and_then(|row| row.try_get_by_index::<Option<String>>(0).ok().flatten()))
}

/// User tables in the schema unqualified names resolve to.
async fn tables_in_current_schema(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let sql = match db.get_database_backend() {
        // pg_tables lists tables whatever the privileges on them, unlike information_schema.
        DbBackend::Postgres => {
            "SELECT tablename::text FROM pg_catalog.pg_tables \
             WHERE schemaname = current_schema() ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1"
        }
    };
    query_strings(db, sql, vec![]).await
}

async fn query_strings(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<sea_orm::Value>,
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

/// The revision MeshCore Hub's migration tool (alembic) recorded in `alembic_version`, or
/// `None` when the table is missing or empty. alembic keeps one row there: the revision whose
/// schema the database has.
pub async fn alembic_revision(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    if !table_exists(db, "alembic_version").await? {
        return Ok(None);
    }
    let revisions = query_strings(
        db,
        "SELECT version_num FROM alembic_version ORDER BY 1",
        vec![],
    )
    .await?;
    Ok(revisions.into_iter().next())
}

/// Whether hub's entities were checked against MeshCore Hub's schema at alembic `revision`
/// ([`migration::KNOWN_ALEMBIC_REVISIONS`]: its head `a59611449e2a` and the previous head
/// `da69304d8106`). A database at another revision is still read as it is; `serve` warns.
pub fn known_alembic_revision(revision: &str) -> bool {
    migration::KNOWN_ALEMBIC_REVISIONS.contains(&revision)
}

/// Whether `table` exists in the connected database (in PostgreSQL's current schema).
pub async fn table_exists(db: &DatabaseConnection, table: &str) -> Result<bool, DbErr> {
    Ok(tables_in_current_schema(db)
        .await?
        .iter()
        .any(|name| name == table))
}

/// Checks that the database answers a trivial query.
/// Whether `err` means the database cannot serve right now (and may later): a connection
/// that fails or cannot be had within the timeout, a statement cancelled by the statement
/// timeout, a SQLite file that is locked or cannot be opened or read, a PostgreSQL server
/// that is shutting down, starting up or out of connections. Anything else (a bad
/// statement, a constraint, a decoding error) is a fault of hub or its data.
pub fn unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{ConnAcquireErr, RuntimeErr};
    let sqlx = match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout | ConnAcquireErr::ConnectionClosed) => {
            return true;
        }
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx.as_ref() {
        Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db_err) => db_err.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// Whether a database error code is one of [`unavailable`]'s: PostgreSQL SQLSTATEs
/// `57014` (statement timeout), `57P01`..`57P03` (shutdown, cannot connect now), class `08`
/// (connection exception) and class `53` (insufficient resources); SQLite primary result
/// codes `SQLITE_BUSY` (5), `SQLITE_LOCKED` (6), `SQLITE_IOERR` (10) and `SQLITE_CANTOPEN` (14),
/// with or without extended bits.
///
/// ```
/// use hub_core::db::unavailable_code;
/// assert!(unavailable_code("57014") && unavailable_code("08006") && unavailable_code("517"));
/// assert!(!unavailable_code("23505") && !unavailable_code("19"));
/// ```
pub fn unavailable_code(code: &str) -> bool {
    if let Ok(sqlite) = code.parse::<u32>()
        && code.len() < 5
    {
        return matches!(sqlite & 0xff, 5 | 6 | 10 | 14);
    }
    matches!(code, "57014" | "57P01" | "57P02" | "57P03")
        || code.starts_with("08")
        || code.starts_with("53")
}

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite, a plain `BEGIN` on
/// PostgreSQL.
///
/// SQLite's default (deferred) transaction starts as a reader and becomes a writer at its
/// first write; if another connection holds the write lock at that moment, SQLite answers
/// `SQLITE_BUSY` at once instead of waiting out the busy timeout (it never waits while
/// holding a read transaction, to avoid deadlock), so two writes close together could fail
/// with a 503. An immediate transaction takes the write lock at `BEGIN`, where the busy
/// timeout applies: concurrent writes queue instead.
///
/// ```no_run
/// # async fn write(db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
/// let txn = hub_core::db::begin_write(db).await?;
/// // ... reads and writes on `txn` ...
/// txn.commit().await
/// # }
/// ```
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Whether the database answers a trivial query (`/health/ready`); bounded by the pool's
/// acquire and statement timeouts.
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
