//! Watching a PostgreSQL database through its cumulative statistics.
//!
//! Each check reads, in one query over `pg_stat_user_tables` (the tables of the schema the
//! connection's `search_path` resolves to), every table's `n_tup_ins`, `n_tup_upd`,
//! `n_tup_del` and `pg_relation_filenode` (which a `TRUNCATE`, `VACUUM FULL` or `CLUSTER`
//! changes). The query runs outside any transaction block, so it is a transaction of its own
//! and its statistics snapshot (`stats_fetch_consistency`) is released when it ends: every
//! check sees current numbers, no `pg_stat_clear_snapshot()` needed.
//!
//! - Updates, deletes, a new filenode, a counter that went down (a stats reset), a table that
//!   appeared or went: the change reaches the past.
//! - Inserts only: a growing table whose time column leads an index is probed with
//!   `count(*) WHERE time >= horizon`, an index range over the current hour only. Head rows
//!   raise `n_tup_ins` and that count alike, so `P = n_tup_ins - head count` stays put, and a
//!   late row (time before the horizon) raises `P` for good. The statistics lag the data, so
//!   `P` dips while rows are visible but not yet counted; only a rise above the highest `P`
//!   seen since the horizon began counts as late. `n_tup_ins` also counts rows of aborted
//!   transactions: they look late, which is safe. Other tables (no time column, or no index
//!   leading with it, like `event_observers.observed_at` in MeshCore Hub's schema, where the
//!   count would scan the table): inserts reach the past.
//! - When the horizon moves, every probed table is re-baselined: `P` and its maximum start
//!   again from the current numbers, which reports nothing by itself. Inserts counted since
//!   the previous check then reach the past: some may be rows of the hour that just became
//!   the past, and the new baseline cannot tell which.
//!
//! - **Newest rows, without waiting for the statistics**: each check also reads `max(time)` of
//!   every probed table and `max(last_seen)` of `nodes` (one backward step of their indexes
//!   each). A table whose newest time moved is reported at once, before its counters show the
//!   write: as a head change when only a newer time at or after the horizon appeared, else as
//!   reaching the past (`nodes`, whose `last_seen` the collector updates, always reaches it).
//!   A late row does not move the newest time; the statistics still find it, within their lag.
//!
//! The order matters: the statistics are read before the head counts, so a row is never in
//! `n_tup_ins` without being in the count read after it (which would look late); a count that
//! runs ahead of the statistics only dips `P`.
//!
//! **Lag**: a backend counts its changes at the end of each transaction and flushes them to
//! shared statistics at most once per second (`PGSTAT_MIN_INTERVAL`, 1000 ms, in
//! `src/backend/utils/activity/pgstat.c`); a backend that goes idle with counts pending
//! flushes them after `PGSTAT_IDLE_INTERVAL` (10000 ms). A commit is thus seen within about
//! 1 s when its writer keeps working and about 10 s after an isolated write, plus the polling
//! interval. Under contention for the statistics' locks a non-forced flush is skipped, and
//! pending counts are forced out after at most `PGSTAT_MAX_INTERVAL` (60000 ms). A late row
//! whose count arrives after the head rows of a later write may first be reported as a head
//! change and then, within that lag, as reaching the past. With `track_counts` off nothing is
//! counted: [`connect`](PostgresWatcher::connect) refuses such a server.

use super::{TableChange, growth_time_column, quoted};
use crate::db::DEFAULT_STATEMENT_TIMEOUT;
use crate::tables::Table;
use chrono::NaiveDateTime;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One table's counters as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters {
    inserted: i64,
    updated: i64,
    deleted: i64,
    filenode: i64,
}

/// The newest time of each table whose recency is probed, as microseconds since the Unix
/// epoch (`None`: the table is empty).
type NewestTimes = BTreeMap<Table, Option<i64>>;

/// The late-row tracking of one probed table under the current horizon.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    /// The highest `n_tup_ins - head count` seen since the horizon began.
    max_past: i64,
}

#[derive(Debug)]
pub(super) struct PostgresWatcher {
    db: DatabaseConnection,
    /// The growing tables whose time column leads a valid, non-partial index, with it.
    probed: BTreeMap<Table, &'static str>,
    /// The tables whose newest time is read on each check, with the time column: the probed
    /// ones and `nodes.last_seen` when an index leads with it.
    recency: BTreeMap<Table, &'static str>,
    last: BTreeMap<Table, Counters>,
    newest: NewestTimes,
    /// The horizon the baselines belong to; `None` before the first check.
    horizon: Option<NaiveDateTime>,
    baselines: BTreeMap<Table, Baseline>,
}

impl PostgresWatcher {
    pub(super) async fn connect(url: &str, schema: Option<String>) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .sqlx_logging(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_timeout(Duration::from_secs(10))
            // As hub's pool: UTC, so the naive horizon compares with MeshCore Hub's
            // `timestamptz` columns as UTC, and the target's schema first on the path.
            .map_sqlx_postgres_opts(move |opts: PgConnectOptions| {
                // A custom plan for every head count: a generic plan would estimate
                // `time >= $1` at a third of the table and could choose a full scan.
                let opts = opts.options([
                    ("TimeZone", "UTC".to_string()),
                    (
                        "statement_timeout",
                        DEFAULT_STATEMENT_TIMEOUT.as_millis().to_string(),
                    ),
                    ("plan_cache_mode", "force_custom_plan".to_string()),
                ]);
                match &schema {
                    Some(schema) => opts.options([("search_path", schema.as_str())]),
                    None => opts,
                }
            });
        let db = Database::connect(options).await?;
        let track_counts = query_strings(&db, "SELECT current_setting('track_counts')").await?;
        if track_counts.first().map(String::as_str) != Some("on") {
            return Err(DbErr::Custom(
                "PostgreSQL's track_counts is off: the change watcher reads its statistics; \
                 turn it on (the default)"
                    .into(),
            ));
        }
        let leading = leading_index_columns(&db).await?;
        let probed: BTreeMap<Table, &'static str> = Table::ALL
            .iter()
            .filter_map(|table| {
                let time = growth_time_column(*table)?;
                leading.contains(&(*table, time)).then_some((*table, time))
            })
            .collect();
        let mut recency = probed.clone();
        if leading.contains(&(Table::Nodes, NODES_RECENCY)) {
            recency.insert(Table::Nodes, NODES_RECENCY);
        }
        let last = read_counters(&db).await?;
        let newest = newest_times(&db, &recency).await?;
        Ok(Self {
            db,
            probed,
            recency,
            last,
            newest,
            horizon: None,
            baselines: BTreeMap::new(),
        })
    }

    pub(super) async fn check(
        &mut self,
        horizon: NaiveDateTime,
    ) -> Result<Vec<TableChange>, DbErr> {
        let counters = read_counters(&self.db).await?;
        let newest = newest_times(&self.db, &self.recency).await?;
        let new_horizon = self.horizon != Some(horizon);
        let mut changes = Vec::new();
        // Probed tables whose head count is needed now: all of them when the horizon moved
        // (re-baseline), else those whose counters moved.
        let mut to_probe = BTreeSet::new();
        let tables: BTreeSet<Table> = self.last.keys().chain(counters.keys()).copied().collect();
        for table in tables {
            let (old, new) = (self.last.get(&table), counters.get(&table));
            let probed = self.probed.contains_key(&table) && new.is_some();
            if probed && (new_horizon || old != new) {
                to_probe.insert(table);
            }
            match (old, new) {
                (Some(old), Some(new)) if old == new => {}
                (Some(old), Some(new))
                    if new.updated == old.updated
                        && new.deleted == old.deleted
                        && new.filenode == old.filenode
                        && new.inserted > old.inserted
                        && probed
                        && !new_horizon =>
                {
                    // Decided by the probe below.
                }
                _ => changes.push(TableChange::past(table)),
            }
        }
        let heads = head_counts(&self.db, &self.probed, &to_probe, horizon).await?;
        for (table, head) in heads {
            let inserted = counters[&table].inserted;
            let past = inserted - head;
            let reported = changes.iter().any(|c| c.table == table);
            let grew = self.last.get(&table) != counters.get(&table);
            match self.baselines.get_mut(&table) {
                Some(baseline) if !new_horizon => {
                    let late = past > baseline.max_past;
                    baseline.max_past = baseline.max_past.max(past);
                    if grew && !reported {
                        changes.push(TableChange {
                            table,
                            reaches_past: late,
                        });
                    }
                }
                _ => {
                    // A new horizon, or a table seen for the first time: start again from
                    // here (a table whose counters moved was reported above).
                    self.baselines.insert(table, Baseline { max_past: past });
                    if grew && !reported {
                        changes.push(TableChange::past(table));
                    }
                }
            }
        }
        if new_horizon {
            self.baselines.retain(|table, _| to_probe.contains(table));
        }
        for (table, time) in &newest {
            let reported = changes.iter().any(|c| c.table == *table);
            if !reported && let Some(before) = self.newest.get(table).filter(|b| *b != time) {
                changes.push(newest_moved(*table, *before, *time, horizon));
            }
        }
        self.horizon = Some(horizon);
        self.last = counters;
        self.newest = newest;
        Ok(changes)
    }
}

/// The column of `nodes` the collector moves forward when it hears a node.
const NODES_RECENCY: &str = "last_seen";

/// What it means that `table`'s newest time went from `before` to `now`: only rows at or after
/// `horizon` appeared when a growing table's newest time moved forward to the horizon or
/// beyond; anything else (a newest row deleted, an updated node) may reach the past.
fn newest_moved(
    table: Table,
    before: Option<i64>,
    now: Option<i64>,
    horizon: NaiveDateTime,
) -> TableChange {
    let horizon = horizon.and_utc().timestamp_micros();
    let forward = match (before, now) {
        (None, Some(_)) => true,
        (Some(before), Some(now)) => now > before,
        _ => false,
    };
    let head = growth_time_column(table).is_some() && forward && now >= Some(horizon);
    TableChange {
        table,
        reaches_past: !head,
    }
}

/// `max(time)` of each table of `recency` in microseconds since the epoch, in one statement
/// (an index's last entry each).
async fn newest_times(
    db: &DatabaseConnection,
    recency: &BTreeMap<Table, &'static str>,
) -> Result<NewestTimes, DbErr> {
    if recency.is_empty() {
        return Ok(NewestTimes::new());
    }
    let columns: Vec<String> = recency
        .iter()
        .map(|(table, time)| {
            format!(
                "(SELECT floor(extract(epoch FROM max({})) * 1000000)::bigint FROM {})",
                quoted(time),
                quoted(table.name())
            )
        })
        .collect();
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT {}", columns.join(", ")),
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the newest times returned no row".into()))?;
    recency
        .keys()
        .enumerate()
        .map(|(i, table)| Ok((*table, row.try_get_by_index::<Option<i64>>(i)?)))
        .collect()
}

/// The counters of the watched tables in the connection's schema.
async fn read_counters(db: &DatabaseConnection) -> Result<BTreeMap<Table, Counters>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT relname::text, n_tup_ins, n_tup_upd, n_tup_del, \
                    coalesce(pg_relation_filenode(relid)::bigint, 0) \
             FROM pg_catalog.pg_stat_user_tables WHERE schemaname = current_schema()",
        ))
        .await?;
    let mut counters = BTreeMap::new();
    for row in rows {
        let name: String = row.try_get_by_index(0)?;
        let Some(table) = Table::from_name(&name) else {
            continue;
        };
        counters.insert(
            table,
            Counters {
                inserted: row.try_get_by_index(1)?,
                updated: row.try_get_by_index(2)?,
                deleted: row.try_get_by_index(3)?,
                filenode: row.try_get_by_index(4)?,
            },
        );
    }
    Ok(counters)
}

/// `(table, column)` of every valid, non-partial index of the connection's schema on one of
/// hub's tables, by the column the index leads with: reading the newest time or counting a
/// range of such a column is an index range, never a scan.
async fn leading_index_columns(
    db: &DatabaseConnection,
) -> Result<BTreeSet<(Table, &'static str)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text, a.attname::text \
             FROM pg_catalog.pg_index i \
             JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
             WHERE n.nspname = current_schema() AND i.indisvalid AND i.indpred IS NULL",
        ))
        .await?;
    let mut leading = BTreeSet::new();
    for row in rows {
        let (name, column): (String, String) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        let Some(table) = Table::from_name(&name) else {
            continue;
        };
        // Only the columns the watcher reads, as static names.
        let known = [growth_time_column(table), Some(NODES_RECENCY)];
        if let Some(column) = known.into_iter().flatten().find(|known| *known == column) {
            leading.insert((table, column));
        }
    }
    Ok(leading)
}

/// `count(*) WHERE time >= horizon` of each table of `tables`, in one statement.
async fn head_counts(
    db: &DatabaseConnection,
    probed: &BTreeMap<Table, &'static str>,
    tables: &BTreeSet<Table>,
    horizon: NaiveDateTime,
) -> Result<Vec<(Table, i64)>, DbErr> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<String> = tables
        .iter()
        .map(|table| {
            format!(
                "(SELECT count(*) FROM {} WHERE {} >= $1)",
                quoted(table.name()),
                quoted(probed[table])
            )
        })
        .collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [horizon.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the head counts returned no row".into()))?;
    tables
        .iter()
        .enumerate()
        .map(|(i, table)| Ok((*table, row.try_get_by_index::<i64>(i)?)))
        .collect()
}

async fn query_strings(db: &DatabaseConnection, sql: &str) -> Result<Vec<String>, DbErr> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}
