//! Watching a SQLite database: a per-connection gate, then cheap signatures.
//!
//! - **Gate**: `PRAGMA data_version` on the watcher's own connection changes when another
//!   connection commits. Unchanged, the check ends there: one pragma, no table read.
//! - **Growing tables** (the collector's, millions of rows): the signature is
//!   `(max(rowid), min(rowid))`, each in a subquery of its own so that SQLite answers it from
//!   the end of the rowid b-tree instead of scanning. A table whose max grew gained the rows
//!   `rowid > previous max` (SQLite gives a new row `max(rowid) + 1`); the minimum time of
//!   that rowid range, compared with the horizon, says whether any of them is late. A min
//!   that moved, or a max that shrank, means deletes: the change reaches the past.
//! - **Small tables** (bounded by the network): `count(*)`, `max(rowid)` and the maximum of
//!   each change-time column the table has (`updated_at`, `last_seen`, `adopted_at`,
//!   `evaluated_at`). Any difference reaches the past; `nodes` included (the collector
//!   updates `last_seen` of existing nodes, which an insert cannot be told from cheaply).
//! - **Nothing the signatures see**: the gate moved but no signature did, e.g. an `UPDATE` or
//!   a `DELETE` in the middle of a growing table. The check cannot tell which table changed,
//!   so it reports every table, reaching the past.
//!
//! The one case this misses: a change invisible to the signatures (such a middle update or
//! delete, or a delete of a table's newest rows followed by inserts that reuse their rowids)
//! committed between two checks together with a change the signatures do see. The check then
//! reports the tables whose signatures moved, not the table of the invisible change (nor,
//! for a growing table whose max grew, that its change reaches the past).
//!
//! All signatures, the schema cookie and `data_version` itself are read in one read
//! transaction, so they describe the same snapshot: a commit landing between the gate and the
//! signatures is seen by the next check, not reported twice or lost. If the connection is
//! ever replaced (its `data_version` would then be another connection's count), the check
//! reports every table and starts over; so does a schema change.

use super::{TableChange, everything, growth_time_column, quoted};
use crate::tables::Table;
use crate::time::{Timestamp, db_time};
use chrono::NaiveDateTime;
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, QueryResult,
    Statement, TransactionTrait,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a read waits for a lock (WAL readers rarely wait: only during recovery or a
/// journal-mode switch).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Columns whose maximum moves when a small table's row is updated, in the order read.
const CHANGE_TIME_COLUMNS: [&str; 4] = ["updated_at", "last_seen", "adopted_at", "evaluated_at"];

/// How one existing table is watched.
#[derive(Debug, Clone)]
enum Watch {
    /// A growing table: `(max(rowid), min(rowid))`, and the time column when it has one.
    Growing { time: Option<String> },
    /// A growing table without rowids (not MeshCore Hub's schema): nothing cheap tells its
    /// changes apart, so it is reported whenever the gate moves.
    Opaque,
    /// A small table: `count(*)`, `max(rowid)` when it has rowids, `quote(max(c))` of each of
    /// `columns`.
    Small { rowid: bool, columns: Vec<String> },
}

#[derive(Debug, Clone)]
struct Watched {
    table: Table,
    watch: Watch,
}

/// One table's signature, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Signature {
    Growing { max: Option<i64>, min: Option<i64> },
    Opaque,
    Small(Vec<String>),
}

/// One consistent reading of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    data_version: i64,
    schema_version: i64,
    signatures: Vec<Signature>,
}

#[derive(Debug)]
pub(super) struct SqliteWatcher {
    db: DatabaseConnection,
    /// Connections the pool has opened; more than one means the first was replaced.
    connects: Arc<AtomicU64>,
    /// `connects` when `last` was read.
    seen_connects: u64,
    watched: Vec<Watched>,
    /// The statement reading `data_version`, the schema cookie and every signature.
    reading_sql: String,
    last: Reading,
}

impl SqliteWatcher {
    pub(super) async fn connect(url: &str) -> Result<Self, DbErr> {
        let connects = Arc::new(AtomicU64::new(0));
        let counter = connects.clone();
        let mut options = ConnectOptions::new(url.to_string());
        options
            .sqlx_logging(false)
            // One connection for the watcher's whole life: `data_version` is per connection.
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_timeout(Duration::from_secs(10))
            // Read-only and never created: the watcher must not alter the database, and a
            // journal mode is left as the collector set it (sqlx sets none unless asked).
            .map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
                opts.read_only(true)
                    .create_if_missing(false)
                    .busy_timeout(BUSY_TIMEOUT)
            })
            .map_sqlx_sqlite_pool_opts(move |pool| {
                let counter = counter.clone();
                pool.after_connect(move |_, _| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Box::pin(async { Ok(()) })
                })
            });
        let db = Database::connect(options).await?;
        let mut watcher = Self {
            db,
            connects,
            seen_connects: 0,
            watched: Vec::new(),
            reading_sql: String::new(),
            last: Reading {
                data_version: 0,
                schema_version: 0,
                signatures: Vec::new(),
            },
        };
        watcher.start_over().await?;
        Ok(watcher)
    }

    pub(super) async fn check(
        &mut self,
        horizon: NaiveDateTime,
    ) -> Result<Vec<TableChange>, DbErr> {
        let connects = self.connects.load(Ordering::SeqCst);
        if connects != self.seen_connects {
            self.start_over().await?;
            return Ok(everything());
        }
        let data_version = query_i64(&self.db, "PRAGMA data_version").await?;
        if self.connects.load(Ordering::SeqCst) != connects {
            self.start_over().await?;
            return Ok(everything());
        }
        if data_version == self.last.data_version {
            return Ok(Vec::new());
        }

        // Something committed: read everything in one snapshot, and the late-row probes of
        // the growing tables that grew in that same snapshot.
        let txn = self.db.begin().await?;
        let reading = read(&txn, &self.reading_sql, &self.watched).await?;
        if reading.schema_version != self.last.schema_version {
            txn.commit().await?;
            self.start_over().await?;
            return Ok(everything());
        }
        let mut changes = Vec::new();
        let mut grown = Vec::new();
        for (i, watched) in self.watched.iter().enumerate() {
            let (old, new) = (&self.last.signatures[i], &reading.signatures[i]);
            match (old, new) {
                (Signature::Opaque, _) => changes.push(TableChange::past(watched.table)),
                _ if old == new => {}
                (
                    Signature::Growing {
                        max: old_max,
                        min: old_min,
                    },
                    Signature::Growing { max: new_max, min },
                ) => {
                    // An empty table that gained rows moved its min from nothing: growth too.
                    let only_grew = match (old_max, old_min) {
                        (None, None) => true,
                        _ => min == old_min && new_max > old_max,
                    };
                    match (&watched.watch, only_grew) {
                        (Watch::Growing { time: Some(time) }, true) => {
                            grown.push((watched.table, time.clone(), old_max.unwrap_or(i64::MIN)))
                        }
                        _ => changes.push(TableChange::past(watched.table)),
                    }
                }
                _ => changes.push(TableChange::past(watched.table)),
            }
        }
        if !grown.is_empty() {
            let late = late_rows(&txn, &grown, horizon).await?;
            for ((table, _, _), late) in grown.iter().zip(late) {
                changes.push(TableChange {
                    table: *table,
                    reaches_past: late,
                });
            }
        }
        txn.commit().await?;
        if self.connects.load(Ordering::SeqCst) != connects {
            self.start_over().await?;
            return Ok(everything());
        }
        let opaque_only = changes.iter().all(|change| {
            self.watched
                .iter()
                .any(|w| w.table == change.table && matches!(w.watch, Watch::Opaque))
        });
        self.last = reading;
        if opaque_only {
            // The gate moved and no signature did (or only tables nothing can tell apart):
            // some table changed where the signatures cannot see.
            return Ok(everything());
        }
        Ok(changes)
    }

    /// Finds the tables again and takes a fresh reading; what changed before it is unknown.
    async fn start_over(&mut self) -> Result<(), DbErr> {
        let connects = self.connects.load(Ordering::SeqCst);
        let txn = self.db.begin().await?;
        let watched = discover(&txn).await?;
        let reading_sql = reading_sql(&watched);
        let reading = read(&txn, &reading_sql, &watched).await?;
        txn.commit().await?;
        self.watched = watched;
        self.reading_sql = reading_sql;
        self.last = reading;
        self.seen_connects = connects;
        Ok(())
    }
}

/// The watched tables the database has, and how each is watched.
async fn discover(db: &impl ConnectionTrait) -> Result<Vec<Watched>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'table'",
        ))
        .await?;
    let mut watched = Vec::new();
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let Some(table) = Table::from_name(&name) else {
            continue;
        };
        let sql: String = row.try_get_by_index(1)?;
        let rowid = !sql.to_ascii_uppercase().contains("WITHOUT ROWID");
        let columns = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT name FROM pragma_table_info(?)",
                [name.clone().into()],
            ))
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        let has = |column: &str| columns.iter().any(|c| c == column);
        let watch = match growth_time_column(table) {
            Some(_) if !rowid => Watch::Opaque,
            Some(time) => Watch::Growing {
                time: has(time).then(|| time.to_string()),
            },
            None => Watch::Small {
                rowid,
                columns: CHANGE_TIME_COLUMNS
                    .iter()
                    .filter(|c| has(c))
                    .map(|c| c.to_string())
                    .collect(),
            },
        };
        watched.push(Watched { table, watch });
    }
    watched.sort_by_key(|w| w.table);
    Ok(watched)
}

/// One statement reading `data_version`, the schema cookie and every table's signature.
///
/// Each aggregate stands alone in its subquery: SQLite answers a lone `max(rowid)` or
/// `min(rowid)` from one end of the table's b-tree, but `SELECT max(rowid), min(rowid)`
/// together would scan the table.
fn reading_sql(watched: &[Watched]) -> String {
    let mut columns = vec![
        "(SELECT data_version FROM pragma_data_version)".to_string(),
        "(SELECT schema_version FROM pragma_schema_version)".to_string(),
    ];
    for w in watched {
        let t = quoted(w.table.name());
        match &w.watch {
            Watch::Growing { .. } => {
                columns.push(format!("(SELECT max(rowid) FROM {t})"));
                columns.push(format!("(SELECT min(rowid) FROM {t})"));
            }
            Watch::Opaque => {}
            Watch::Small { rowid, columns: cs } => {
                columns.push(format!("(SELECT count(*) FROM {t})"));
                if *rowid {
                    columns.push(format!("(SELECT quote(max(rowid)) FROM {t})"));
                }
                for c in cs {
                    // quote(): one text form whatever the stored type, and 'NULL' for none.
                    columns.push(format!("(SELECT quote(max({})) FROM {t})", quoted(c)));
                }
            }
        }
    }
    format!("SELECT {}", columns.join(", "))
}

async fn read(db: &impl ConnectionTrait, sql: &str, watched: &[Watched]) -> Result<Reading, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?
        .ok_or_else(|| DbErr::Custom("the change signatures returned no row".into()))?;
    let mut at = 2;
    let mut signatures = Vec::with_capacity(watched.len());
    for w in watched {
        signatures.push(match &w.watch {
            Watch::Growing { .. } => {
                let max = row.try_get_by_index::<Option<i64>>(at)?;
                let min = row.try_get_by_index::<Option<i64>>(at + 1)?;
                at += 2;
                Signature::Growing { max, min }
            }
            Watch::Opaque => Signature::Opaque,
            Watch::Small { rowid, columns } => {
                let count = row.try_get_by_index::<i64>(at)?;
                let mut values = vec![count.to_string()];
                let n = usize::from(*rowid) + columns.len();
                for i in 0..n {
                    values.push(row.try_get_by_index::<String>(at + 1 + i)?);
                }
                at += 1 + n;
                Signature::Small(values)
            }
        });
    }
    Ok(Reading {
        data_version: row.try_get_by_index(0)?,
        schema_version: row.try_get_by_index(1)?,
        signatures,
    })
}

/// For each `(table, time column, previous max rowid)`, whether any row after that rowid has
/// a time before `horizon`, in one statement. Each probe is a rowid range (the new rows
/// only): the unary `+` keeps SQLite from answering `min(time)` by walking the time index
/// from its oldest entry and filtering on rowid, which would read most of the table. Times
/// compare as MeshCore Hub's text, as hub's own queries compare them. A range found empty
/// (its rows deleted since) counts as late: something else happened there.
async fn late_rows(
    db: &impl ConnectionTrait,
    grown: &[(Table, String, i64)],
    horizon: NaiveDateTime,
) -> Result<Vec<bool>, DbErr> {
    let mut columns = Vec::new();
    let mut values = vec![db_time(DbBackend::Sqlite, Timestamp(horizon))];
    for (i, (table, time, after)) in grown.iter().enumerate() {
        columns.push(format!(
            "(SELECT min(+{}) FROM {} WHERE rowid > ?{}) < ?1",
            quoted(time),
            quoted(table.name()),
            i + 2
        ));
        values.push((*after).into());
    }
    let sql = format!("SELECT {}", columns.join(", "));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the late-row probe returned no row".into()))?;
    (0..grown.len())
        .map(|i| Ok(row.try_get_by_index::<Option<i64>>(i)? != Some(0)))
        .collect()
}

async fn query_i64(db: &DatabaseConnection, sql: &str) -> Result<i64, DbErr> {
    let row: QueryResult = db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("{sql} returned no row")))?;
    row.try_get_by_index(0)
}
