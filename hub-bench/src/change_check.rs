//! `--change-check N`: what the change watcher (`hub_core::changes`) costs per check on the
//! benchmarked database.
//!
//! Opens a [`ChangeWatcher`] on the database and times N checks twice: with no writes (the
//! cost of the gate: `PRAGMA data_version` on SQLite, one statistics query on PostgreSQL),
//! then with one message inserted (received now, as the collector inserts) through another
//! connection before each check (SQLite: the signatures of every table and the late-row probe
//! of the new rows; PostgreSQL: the statistics and, once they show the inserts, the head
//! count of the current hour). The inserted messages are deleted at the end.

use chrono::{NaiveDateTime, Timelike, Utc};
use hub_core::changes::ChangeWatcher;
use hub_core::db::DatabaseTarget;
use hub_core::tables::Table;
use hub_core::time::{Timestamp, db_time};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::time::{Duration, Instant};

/// Times of one phase, and what its checks reported.
struct Phase {
    name: &'static str,
    /// Check durations, sorted.
    times: Vec<Duration>,
    /// Checks that reported `messages`, and those of them reaching the past.
    reported: usize,
    reached_past: usize,
}

impl Phase {
    fn percentile_ms(&self, q: f64) -> f64 {
        let rank = ((q * self.times.len() as f64).ceil() as usize).clamp(1, self.times.len());
        self.times[rank - 1].as_secs_f64() * 1000.0
    }
}

/// Runs the change-check benchmark on `url` (seeded already) with `n` checks per phase.
pub(crate) async fn change_check(url: &str, n: u32) -> Result<(), String> {
    let db_err = |e: sea_orm::DbErr| format!("database: {e}");
    let started = Instant::now();
    let mut watcher = ChangeWatcher::connect(&DatabaseTarget::url(url))
        .await
        .map_err(db_err)?;
    let connect = started.elapsed();
    let writer = hub_core::db::connect(url).await.map_err(db_err)?;
    let now = Utc::now().naive_utc();
    let horizon = now
        .date()
        .and_hms_opt(now.hour(), 0, 0)
        .expect("the start of an hour exists");
    // The first check sets PostgreSQL's baselines for this horizon; not measured.
    watcher.check(horizon).await.map_err(db_err)?;

    let mut phases = Vec::new();
    let mut quiet = Phase::new("no writes (the gate)", n as usize);
    for _ in 0..n {
        quiet.time(&mut watcher, horizon).await.map_err(db_err)?;
    }
    phases.push(quiet);

    let prefix = format!("bench-change-{}", std::process::id());
    let mut inserting = Phase::new("one message inserted before each check", n as usize);
    let result = async {
        for i in 0..n {
            insert_message(&writer, &format!("{prefix}-{i}"), Utc::now().naive_utc()).await?;
            inserting.time(&mut watcher, horizon).await?;
        }
        Ok::<_, sea_orm::DbErr>(())
    }
    .await;
    let backend = writer.get_database_backend();
    let cleanup = writer
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM messages WHERE id LIKE $1",
            [format!("{prefix}-%").into()],
        ))
        .await;
    result.map_err(db_err)?;
    cleanup.map_err(db_err)?;
    phases.push(inserting);

    println!(
        "change watcher on {}: connect {:.1} ms, {n} checks per phase",
        hub_core::db::redact_url(url),
        connect.as_secs_f64() * 1000.0
    );
    println!(
        "| phase | median ms | p99 ms | max ms | checks reporting messages (reaching the past) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for phase in &mut phases {
        phase.times.sort();
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {} ({}) |",
            phase.name,
            phase.percentile_ms(0.5),
            phase.percentile_ms(0.99),
            phase.percentile_ms(1.0),
            phase.reported,
            phase.reached_past
        );
    }
    Ok(())
}

impl Phase {
    fn new(name: &'static str, n: usize) -> Self {
        Self {
            name,
            times: Vec::with_capacity(n),
            reported: 0,
            reached_past: 0,
        }
    }

    async fn time(
        &mut self,
        watcher: &mut ChangeWatcher,
        horizon: NaiveDateTime,
    ) -> Result<(), sea_orm::DbErr> {
        let started = Instant::now();
        let changes = watcher.check(horizon).await?;
        self.times.push(started.elapsed());
        if let Some(change) = changes.iter().find(|c| c.table == Table::Messages) {
            self.reported += 1;
            self.reached_past += usize::from(change.reaches_past);
        }
        Ok(())
    }
}

async fn insert_message(
    db: &DatabaseConnection,
    id: &str,
    at: NaiveDateTime,
) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO messages (id, message_type, channel_idx, text, received_at, created_at, \
         updated_at) VALUES ($1, 'channel', 17, 'bench', $2, $2, $2)",
        [id.into(), db_time(backend, Timestamp(at))],
    ))
    .await
    .map(|_| ())
}
