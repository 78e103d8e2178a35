//! `hub-api seed`: fills the database with a deterministic synthetic mesh network.
//!
//! One seeded RNG draws every row (see [`generate`]), so the same `--seed` and `--anchor`
//! give an identical database; without `--anchor` the data is placed relative to now and
//! differs only by that shift. The network covers what the API computes (docs/contract/api.md section 2):
//! nodes with tags and adopters, observers and their event_observers rows, adverts of every
//! route type, channel and contact messages on channels of every visibility level, on the
//! Public channel and on indices without a channel row, spam scores, raw packets heard by
//! several observers with their path hops (decodable, channel-encrypted and undecodable
//! payloads), telemetry, trace paths, profiles with roles (some holding `test`), and routes
//! with path nodes, observers, results, daily history and recent matches whose packets really
//! carry the route's hops, spread over the last 60 days.
//!
//! Speed: rows are written as multi-row INSERTs in one transaction, generated on a blocking
//! thread while the previous chunk is inserted. On SQLite a dedicated connection with
//! `synchronous=OFF` and a large page cache does the writing (the server's pool keeps its own
//! settings), and the secondary indexes of the big tables are rebuilt once at the end.

pub mod generate;
pub mod pyjson;
pub mod tables;

use chrono::{NaiveDateTime, SubsecRound};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::sqlx::sqlite::{SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqlxSqliteConnector, Statement, TransactionTrait,
};
use std::fmt;
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use tables::{Chunk, Table};

/// The default `--seed`, so `hub-api seed` twice gives the same network.
pub const DEFAULT_SEED: u64 = 20_261_126;

/// Options of `hub-api seed`.
#[derive(clap::Args, Debug, Clone)]
pub struct SeedArgs {
    /// Size of the network: small (demo, tests), medium, or large (benchmarks: about 2,000
    /// nodes, 200,000 adverts, 500,000 messages, 1,000,000 raw packets with their path hops,
    /// 50,000 telemetry records, 20,000 trace paths).
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    pub scale: Scale,
    /// RNG seed: the same seed (and anchor) always gives the same rows.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Seed even though the database already has data: first delete every row of the seeded
    /// tables (route_recent_matches, trace_paths, telemetry, packet_path_hops, raw_packets,
    /// event_observers, messages, advertisements, route_result_history, route_results,
    /// route_observers, route_nodes, routes, user_profile_nodes, user_profiles, channels,
    /// node_tags, nodes).
    #[arg(long)]
    pub force: bool,
    /// The "now" of the generated network (UTC, e.g. 2026-11-26T05:00:00Z); default: the
    /// current time. Fix it to reproduce a database exactly.
    #[arg(long, value_parser = parse_anchor)]
    pub anchor: Option<NaiveDateTime>,
}

impl Default for SeedArgs {
    fn default() -> Self {
        Self {
            scale: Scale::Small,
            seed: DEFAULT_SEED,
            force: false,
            anchor: None,
        }
    }
}

fn parse_anchor(text: &str) -> Result<NaiveDateTime, String> {
    hub_core::time::parse_datetime_param(text).ok_or_else(|| {
        format!("expected a UTC datetime such as 2026-11-26T05:00:00Z, got {text:?}")
    })
}

/// Size presets of the synthetic network.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// About 60 nodes and a few thousand events: the `serve --demo` network and the tests.
    Small,
    /// About 400 nodes and 170,000 events.
    Medium,
    /// About 2,000 nodes and 1.7 million events: for benchmarks.
    Large,
}

impl Scale {
    /// Row counts of this scale.
    pub fn plan(self) -> Plan {
        match self {
            Scale::Small => Plan {
                nodes: 60,
                observers: 6,
                adverts: 2_000,
                messages: 3_000,
                raw_packets: 6_000,
                hop_days: None,
                telemetry: 400,
                trace_paths: 200,
                profiles: 16,
                routes: 12,
            },
            Scale::Medium => Plan {
                nodes: 400,
                observers: 16,
                adverts: 20_000,
                messages: 50_000,
                raw_packets: 100_000,
                hop_days: None,
                telemetry: 5_000,
                trace_paths: 2_000,
                profiles: 60,
                routes: 24,
            },
            Scale::Large => Plan {
                nodes: 2_000,
                observers: 40,
                adverts: 200_000,
                messages: 500_000,
                raw_packets: 1_000_000,
                hop_days: Some(7),
                telemetry: 50_000,
                trace_paths: 20_000,
                profiles: 200,
                routes: 48,
            },
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scale::Small => "small",
            Scale::Medium => "medium",
            Scale::Large => "large",
        })
    }
}

/// How many rows of each kind a scale generates (the other tables follow from these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Nodes, observers included.
    pub nodes: usize,
    /// Nodes with `is_observer = 1`.
    pub observers: usize,
    /// Advertisements.
    pub adverts: usize,
    /// Messages (channel and contact).
    pub messages: usize,
    /// Raw packets (receptions: several rows share a packet_hash when several observers
    /// heard the packet).
    pub raw_packets: usize,
    /// Only raw packets received within this many days carry packet_path_hops rows (all of
    /// them when `None`): at `large`, hops for all 60 days would be the biggest table and
    /// double the seed time, while route evaluation and packet pages look at recent days.
    /// Older packets then read as ingested before the hub recorded paths.
    pub hop_days: Option<i64>,
    /// Telemetry records.
    pub telemetry: usize,
    /// Trace paths.
    pub trace_paths: usize,
    /// User profiles.
    pub profiles: usize,
    /// Routes.
    pub routes: usize,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The database has nodes and `--force` was not given.
    #[error(
        "the database already holds {nodes} nodes; refusing to seed over existing data \
         (run `hub-api seed --force` to delete all rows of the seeded tables and seed again)"
    )]
    NotEmpty {
        /// Rows in `nodes`.
        nodes: i64,
    },
    /// A query failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The generator thread panicked (a bug).
    #[error("seed generator failed: {0}")]
    Generator(String),
}

/// What a seed run wrote.
#[derive(Debug, Clone)]
pub struct SeedSummary {
    /// Scale seeded.
    pub scale: Scale,
    /// RNG seed used.
    pub seed: u64,
    /// The "now" the data is relative to.
    pub anchor: NaiveDateTime,
    /// Rows inserted per table, in [`Table::ALL`] order.
    pub rows: Vec<(Table, u64)>,
    /// Channel indices that have messages but no channels row.
    pub orphan_channel_indices: Vec<i32>,
    /// Wall time of the whole run (clearing included).
    pub elapsed: Duration,
}

impl SeedSummary {
    /// Rows inserted into `table`.
    pub fn rows_in(&self, table: Table) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }

    /// Rows inserted in all tables.
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "seeded scale={} seed={} anchor={} in {secs:.1} s ({:.0} rows/s)",
            self.scale,
            self.seed,
            hub_core::time::rfc3339(self.anchor),
            self.total_rows() as f64 / secs.max(1e-9)
        )?;
        writeln!(f, "{:<22} {:>12}", "table", "rows")?;
        for (table, rows) in &self.rows {
            writeln!(f, "{:<22} {:>12}", table.name(), thousands(*rows))?;
        }
        write!(f, "{:<22} {:>12}", "total", thousands(self.total_rows()))
    }
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `hub-api seed`: seeds the database and prints the summary.
pub async fn run(db: &DatabaseConnection, args: &SeedArgs) -> Result<(), SeedError> {
    let summary = seed_database(db, args).await?;
    println!("{summary}");
    Ok(())
}

/// Seeds the small demo network when the database has no nodes (`serve --demo`).
///
/// Returns whether it seeded.
pub async fn seed_demo_if_empty(db: &DatabaseConnection) -> Result<bool, SeedError> {
    if count_rows(db, Table::Nodes).await? > 0 {
        tracing::info!("demo data not seeded: the database already has nodes");
        return Ok(false);
    }
    let summary = seed_database(db, &SeedArgs::default()).await?;
    tracing::info!(
        rows = summary.total_rows(),
        nodes = summary.rows_in(Table::Nodes),
        seconds = summary.elapsed.as_secs_f64(),
        "seeded the small demo network"
    );
    Ok(true)
}

/// Seeds the database as `args` says and reports what was written.
///
/// Refuses ([`SeedError::NotEmpty`]) when `nodes` has rows, unless `args.force`, which first
/// deletes every row of the seeded tables.
pub async fn seed_database(
    db: &DatabaseConnection,
    args: &SeedArgs,
) -> Result<SeedSummary, SeedError> {
    let started = Instant::now();
    let nodes = count_rows(db, Table::Nodes).await?;
    if nodes > 0 && !args.force {
        return Err(SeedError::NotEmpty { nodes });
    }
    let writer = WriterConnection::open(db).await?;
    let result = seed_with(writer.db(), args, started).await;
    writer.close().await;
    result
}

async fn seed_with(
    db: &DatabaseConnection,
    args: &SeedArgs,
    started: Instant,
) -> Result<SeedSummary, SeedError> {
    // Whole microseconds: what the database keeps, so re-reading the anchor gives it back.
    let anchor = args
        .anchor
        .unwrap_or_else(hub_core::time::now)
        .trunc_subsecs(6);
    let plan = args.scale.plan();
    let config = generate::Config {
        plan: plan.clone(),
        seed: args.seed,
        anchor,
        backend: db.get_database_backend(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(8);
    let generator = tokio::task::spawn_blocking(move || generate::generate(config, tx));
    let progress = Progress::new(&plan, args.scale);
    let written = write_chunks(db, rx, &progress, args.force).await;
    progress.finish();
    // On a write error the channel closes and the generator stops at its next chunk.
    let generated = generator
        .await
        .map_err(|e| SeedError::Generator(e.to_string()))?;
    let rows = written?;
    let facts = generated.map_err(|_| SeedError::Generator("the writer stopped early".into()))?;
    Ok(SeedSummary {
        scale: args.scale,
        seed: args.seed,
        anchor,
        rows: Table::ALL.iter().map(|t| (*t, rows[t.index()])).collect(),
        orphan_channel_indices: facts.orphan_channel_indices,
        elapsed: started.elapsed(),
    })
}

/// Inserts every chunk inside one transaction (with `--force`, the clearing too).
///
/// One transaction makes a seed all or nothing: a failure or a crash leaves the database as
/// it was. On SQLite the secondary indexes of the big tables are dropped first and rebuilt
/// before the commit (sorting once is several times faster than a million random B-tree
/// inserts per index); being inside the transaction, the drop can never be left behind.
async fn write_chunks(
    db: &DatabaseConnection,
    mut rx: tokio::sync::mpsc::Receiver<Chunk>,
    progress: &Progress,
    force: bool,
) -> Result<Vec<u64>, DbErr> {
    let backend = db.get_database_backend();
    // The SQL of a full chunk per table, built once: same text, same prepared statement.
    let full_sql: Vec<String> = Table::ALL
        .iter()
        .map(|t| tables::insert_sql(backend, *t, t.chunk_rows()))
        .collect();
    let mut rows = vec![0u64; Table::ALL.len()];
    let txn = db.begin().await?;
    if force {
        clear(&txn).await?;
    }
    let indexes = if backend == DbBackend::Sqlite {
        drop_bulk_indexes(&txn).await?
    } else {
        Vec::new()
    };
    while let Some(chunk) = rx.recv().await {
        let table = chunk.table;
        let sql = if chunk.rows == table.chunk_rows() {
            full_sql[table.index()].clone()
        } else {
            tables::insert_sql(backend, table, chunk.rows)
        };
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, chunk.values))
            .await
            .map_err(|e| DbErr::Custom(format!("inserting into {}: {e}", table.name())))?;
        rows[table.index()] += chunk.rows as u64;
        progress.advance(table, chunk.rows as u64, &rows);
    }
    progress.indexing(indexes.len());
    for sql in &indexes {
        txn.execute_unprepared(sql).await?;
    }
    txn.commit().await?;
    Ok(rows)
}

/// The tables big enough that rebuilding their indexes beats maintaining them row by row:
/// the event tables, advertisements to trace_paths in [`Table::ALL`].
fn bulk_tables() -> &'static [Table] {
    &Table::ALL[Table::Advertisements.index()..=Table::TracePaths.index()]
}

/// Drops the explicitly created indexes of [`bulk_tables`] and returns their `CREATE INDEX`
/// statements, exactly as the schema has them (hub's or MeshCore Hub's). Indexes behind
/// PRIMARY KEY / UNIQUE constraints cannot be dropped and stay.
async fn drop_bulk_indexes(txn: &DatabaseTransaction) -> Result<Vec<String>, DbErr> {
    let tables = bulk_tables()
        .iter()
        .map(|t| format!("'{}'", t.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let found = txn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                 AND tbl_name IN ({tables}) ORDER BY name"
            ),
        ))
        .await?;
    let mut statements = Vec::with_capacity(found.len());
    for row in found {
        let name: String = row.try_get_by_index(0)?;
        statements.push(row.try_get_by_index::<String>(1)?);
        txn.execute_unprepared(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
            .await?;
    }
    Ok(statements)
}

/// Deletes every row of the seeded tables, children first.
async fn clear(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    for table in Table::ALL.iter().rev() {
        txn.execute_unprepared(&format!("DELETE FROM \"{}\"", table.name()))
            .await?;
    }
    Ok(())
}

/// `SELECT COUNT(*)` of a seeded table.
pub async fn count_rows(db: &DatabaseConnection, table: Table) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) FROM \"{}\"", table.name()),
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("COUNT(*) returned no row".into()))?;
    row.try_get_by_index::<i64>(0)
}

/// The connection the seed writes through.
enum WriterConnection<'a> {
    /// A single SQLite connection of its own with bulk-load settings.
    Dedicated(DatabaseConnection),
    /// The caller's connection (PostgreSQL, in-memory SQLite).
    Shared(&'a DatabaseConnection),
}

impl<'a> WriterConnection<'a> {
    /// For a SQLite file: one new connection with `synchronous=OFF` (a crash mid-seed only
    /// loses seed data, which is rerun with `--force`) and a 1 GiB page cache (the random
    /// UUID and hash indexes of a million-row table stay in memory). `synchronous` cannot be
    /// changed inside a transaction and is per connection, so changing it on the server's
    /// pool would leak into `serve --demo`.
    async fn open(db: &'a DatabaseConnection) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(Self::Shared(db));
        }
        let options = (*db.get_sqlite_connection_pool().connect_options()).clone();
        if !options.get_filename().is_file() {
            return Ok(Self::Shared(db));
        }
        let options = options
            .synchronous(SqliteSynchronous::Off)
            .pragma("cache_size", "-1048576")
            .pragma("temp_store", "MEMORY")
            // helper threads for the sorts of the index rebuilds
            .pragma("threads", "2")
            // the whole seed is one transaction: give the WAL file back after the checkpoint
            .pragma("journal_size_limit", "67108864");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| DbErr::Custom(format!("opening the seeding connection: {e}")))?;
        Ok(Self::Dedicated(SqlxSqliteConnector::from_sqlx_sqlite_pool(
            pool,
        )))
    }

    fn db(&self) -> &DatabaseConnection {
        match self {
            Self::Dedicated(db) => db,
            Self::Shared(db) => db,
        }
    }

    async fn close(self) {
        if let Self::Dedicated(db) = self {
            // The seed was one big transaction: hand the WAL's disk space back now rather
            // than when the last connection of the process closes.
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .ok();
            db.close().await.ok();
        }
    }
}

/// An indicatif bar on a terminal, periodic log lines otherwise.
enum Progress {
    Bar(ProgressBar),
    Log {
        started: Instant,
        last: std::sync::Mutex<Instant>,
        total: u64,
    },
}

/// Log lines at most this often when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    fn new(plan: &Plan, scale: Scale) -> Self {
        // The bar counts the main tables; the small ones, event_observers and hops ride along.
        let total = (plan.nodes
            + plan.adverts
            + plan.messages
            + plan.raw_packets
            + plan.telemetry
            + plan.trace_paths) as u64;
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner} seeding {prefix} [{bar:40}] {percent:>3}% {msg} ({elapsed})",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_prefix(scale.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            Self::Bar(bar)
        } else {
            tracing::info!(%scale, events = total, "seeding");
            Self::Log {
                started: Instant::now(),
                last: std::sync::Mutex::new(Instant::now()),
                total,
            }
        }
    }

    fn counts_toward_total(table: Table) -> bool {
        matches!(
            table,
            Table::Nodes
                | Table::Advertisements
                | Table::Messages
                | Table::RawPackets
                | Table::Telemetry
                | Table::TracePaths
        )
    }

    fn advance(&self, table: Table, rows: u64, totals: &[u64]) {
        match self {
            Self::Bar(bar) => {
                if Self::counts_toward_total(table) {
                    bar.inc(rows);
                }
                bar.set_message(table.name());
            }
            Self::Log {
                started,
                last,
                total,
            } => {
                let mut last = last.lock().expect("progress lock");
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    let done: u64 = Table::ALL
                        .iter()
                        .filter(|t| Self::counts_toward_total(**t))
                        .map(|t| totals[t.index()])
                        .sum();
                    tracing::info!(
                        table = table.name(),
                        percent = done * 100 / (*total).max(1),
                        rows = totals.iter().sum::<u64>(),
                        seconds = started.elapsed().as_secs(),
                        "seeding"
                    );
                }
            }
        }
    }

    fn indexing(&self, indexes: usize) {
        match self {
            Self::Bar(bar) => bar.set_message(format!("rebuilding {indexes} indexes")),
            Self::Log { .. } => tracing::info!(indexes, "seeding: rebuilding indexes"),
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
