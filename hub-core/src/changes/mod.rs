//! Noticing changes hub did not make: the collector's inserts, its `last_seen` updates, its
//! retention deletes, an operator's SQL.
//!
//! hub's own writes bump the generations of the tables they change (see [`crate::tables`]);
//! everything else is found by a [`ChangeWatcher`] that the server polls. Each
//! [`ChangeWatcher::check`] answers which tables changed since the previous one, and for each
//! whether the change may reach rows before a *horizon* (the start of the current UTC hour):
//! responses that keep past-hour and past-day counts (which end before the horizon) stay valid
//! while a table only gains rows at or after it.
//!
//! The watcher reads only what is cheap, whatever the size of the collector's tables:
//! - SQLite: `PRAGMA data_version` on the watcher's own connection gates every check;
//!   after a commit it reads `max(rowid)`/`min(rowid)` of the growing tables and small
//!   signatures of the bounded ones, in one statement. See `sqlite.rs` for the one case it
//!   cannot see.
//! - PostgreSQL: the cumulative statistics (`pg_stat_user_tables`), which lag the data by up
//!   to about 10 seconds (60 under stats-lock contention), and the newest time of the growing
//!   tables and of `nodes.last_seen`, which does not: the collector's new rows and `last_seen`
//!   updates show at the next check, deletes and late rows within the statistics' lag; see
//!   `postgres.rs`.
//!
//! It never writes: no triggers, no tables, no settings that persist. Tables the database does
//! not have (an older schema) are skipped.
//!
//! ```no_run
//! # async fn poll() -> Result<(), sea_orm::DbErr> {
//! use chrono::{Timelike, Utc};
//! use hub_core::changes::ChangeWatcher;
//! use hub_core::db::DatabaseTarget;
//!
//! let mut watcher = ChangeWatcher::connect(&DatabaseTarget::url("sqlite://data/meshcore.db")).await?;
//! let now = Utc::now().naive_utc();
//! let horizon = now.date().and_hms_opt(now.hour(), 0, 0).unwrap();
//! for change in watcher.check(horizon).await? {
//!     println!("{} changed (reaches the past: {})", change.table, change.reaches_past);
//! }
//! # Ok(())
//! # }
//! ```

mod postgres;
mod sqlite;
mod watch;

pub use watch::watch;

use crate::db::{DatabaseTarget, normalize_database_url};
use crate::tables::Table;
use chrono::NaiveDateTime;
use sea_orm::DbErr;

/// What one check found changed in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableChange {
    /// The table that changed.
    pub table: Table,
    /// Whether the change may alter rows whose time is before the check's horizon: a late
    /// row, a delete, an update, or anything the watcher cannot attribute. `false` only when
    /// the table only gained rows whose time is at or after the horizon.
    pub reaches_past: bool,
}

impl TableChange {
    /// A change that may reach any row.
    fn past(table: Table) -> Self {
        Self {
            table,
            reaches_past: true,
        }
    }
}

/// Watches one database for changes made by anyone, on a connection of its own.
///
/// Not shared: [`check`](Self::check) takes `&mut self`, and one poller owns the watcher.
#[derive(Debug)]
pub struct ChangeWatcher {
    inner: Backend,
}

#[derive(Debug)]
enum Backend {
    Sqlite(sqlite::SqliteWatcher),
    Postgres(postgres::PostgresWatcher),
}

impl ChangeWatcher {
    /// Opens the watcher's own single connection to the database (kept open: SQLite's
    /// `PRAGMA data_version` is per connection) and takes the first readings.
    ///
    /// The URL is any form [`normalize_database_url`] accepts; PostgreSQL connections use the
    /// target's schema as their `search_path` and UTC as their time zone, as
    /// [`crate::db::connect_to`] does. A SQLite file is opened read-only and never created.
    pub async fn connect(target: &DatabaseTarget) -> Result<ChangeWatcher, DbErr> {
        let url = normalize_database_url(&target.url).map_err(DbErr::Custom)?;
        let inner = if url.starts_with("postgres://") {
            Backend::Postgres(
                postgres::PostgresWatcher::connect(&url, target.schema.clone()).await?,
            )
        } else {
            Backend::Sqlite(sqlite::SqliteWatcher::connect(&url).await?)
        };
        Ok(ChangeWatcher { inner })
    }

    /// The tables that changed since the last check (or since [`connect`](Self::connect)), in
    /// [`Table::ALL`] order. `horizon`: the start of the current UTC hour as the caller sees
    /// it (kept past-hour/past-day counts end before it).
    ///
    /// An error leaves the previous readings in place: the next check reports what changed
    /// since the last check that succeeded.
    pub async fn check(&mut self, horizon: NaiveDateTime) -> Result<Vec<TableChange>, DbErr> {
        let mut changes = match &mut self.inner {
            Backend::Sqlite(watcher) => watcher.check(horizon).await?,
            Backend::Postgres(watcher) => watcher.check(horizon).await?,
        };
        changes.sort_by_key(|change| change.table);
        Ok(changes)
    }
}

/// The column that places a row in time, for the tables the collector appends to (their size
/// grows with time: never counted or scanned whole).
///
/// `nodes` is bounded by the network and is watched like the other small tables.
fn growth_time_column(table: Table) -> Option<&'static str> {
    match table {
        Table::Advertisements
        | Table::Messages
        | Table::RawPackets
        | Table::PacketPathHops
        | Table::Telemetry
        | Table::TracePaths
        | Table::EventsLog => Some("received_at"),
        // When an observer heard the event; the table has no `received_at`.
        Table::EventObservers => Some("observed_at"),
        _ => None,
    }
}

/// Every table, each reaching the past: what a check reports when it cannot tell more.
fn everything() -> Vec<TableChange> {
    Table::ALL.iter().copied().map(TableChange::past).collect()
}

/// `name` as a quoted SQL identifier. Table and column names here come from hub's own lists
/// or the database's catalog; quoting keeps any of them a name.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_tables_have_a_time_column_and_nodes_is_small() {
        let growing: Vec<_> = Table::ALL
            .iter()
            .filter(|t| growth_time_column(**t).is_some())
            .collect();
        assert_eq!(growing.len(), 8);
        assert_eq!(growth_time_column(Table::Nodes), None);
        assert_eq!(growth_time_column(Table::UserProfileNodes), None);
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quoted("nodes"), "\"nodes\"");
        assert_eq!(quoted("a\"b"), "\"a\"\"b\"");
    }
}
