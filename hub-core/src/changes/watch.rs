//! [`watch`]: the task that looks for changes every interval, and on demand, and tells the
//! cache.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DurationRound, NaiveDateTime, TimeDelta};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{ChangeWatcher, TableChange};
use crate::cache::runtime::ResponseCache;
use crate::db::DatabaseTarget;
use crate::tables::{LookOnDemand, Table};

/// Starts watching `target`: every `interval` a [`ChangeWatcher`] looks for tables changed
/// since its last look, and each is reported to `cache`: a table that only gained rows of the
/// current hour through [`ResponseCache::tables_grew`] (cached answers that read it end, in
/// Redis for every instance; kept past counts stay), any other change through
/// [`ResponseCache::tables_changed`] (kept past counts that read it are read again too).
///
/// The same watcher also looks on demand, between two ticks: it is attached to the cache's
/// [`TableVersions`](crate::tables::TableVersions), so a kept count about to be used
/// ([`TableVersions::current`](crate::tables::TableVersions::current)) first sees every
/// change committed before its request asked. Concurrent askers share one look.
///
/// Never fails and never stalls a request: it runs on a task and a connection of its own. When
/// the database cannot be reached the watch retries every interval (logged once per outage),
/// changes then showing when TTLs end, and looks on demand return at once; when it is back,
/// every table is reported changed, since what happened meanwhile is unknown. Abort the handle
/// to stop the ticks.
///
/// ```no_run
/// # async fn start(cache: hub_core::cache::runtime::ResponseCache) {
/// use hub_core::{changes::watch, db::DatabaseTarget};
/// use std::time::Duration;
/// let target = DatabaseTarget::url("sqlite://data/meshcore.db");
/// let handle = watch(target, cache, Duration::from_secs(1));
/// # handle.abort();
/// # }
/// ```
pub fn watch(target: DatabaseTarget, cache: ResponseCache, interval: Duration) -> JoinHandle<()> {
    let looks = Arc::new(Looks {
        target,
        cache: cache.clone(),
        state: Mutex::new(LookState::default()),
    });
    if !cache.versions().look_with(looks.clone()) {
        tracing::debug!(target: "hub::changes",
            "another watch already looks on demand for this cache");
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tracing::debug!(target: "hub::changes",
            interval_ms = interval.as_millis() as u64, "data-change watch started");
        loop {
            ticks.tick().await;
            looks.look_now(Instant::now(), Trigger::Tick).await;
        }
    })
}

/// The watcher and what it reports to, shared by the ticks and the looks on demand.
struct Looks {
    target: DatabaseTarget,
    cache: ResponseCache,
    state: Mutex<LookState>,
}

#[derive(Default)]
struct LookState {
    watcher: Option<ChangeWatcher>,
    /// Whether the watch has lost sight of the database since it last saw it.
    lost: bool,
    /// When the latest look started.
    last_started: Option<Instant>,
}

/// Who asks for a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The interval: reconnects when the database was lost.
    Tick,
    /// A request about to use kept counts: never waits for a reconnection.
    Demand,
}

impl Looks {
    /// Looks unless a look started at or after `since` (it saw everything committed before).
    async fn look_now(&self, since: Instant, trigger: Trigger) {
        let mut state = self.state.lock().await;
        if state.last_started.is_some_and(|started| started >= since)
            || (trigger == Trigger::Demand && state.lost)
        {
            return;
        }
        state.last_started = Some(Instant::now());
        let state = &mut *state;
        let current = match &mut state.watcher {
            Some(current) => current,
            None => match ChangeWatcher::connect(&self.target).await {
                Ok(opened) => {
                    if state.lost {
                        tracing::info!(target: "hub::changes", "data-change watch resumed");
                        self.cache.tables_changed(Table::ALL).await;
                    }
                    state.lost = false;
                    state.watcher.insert(opened)
                }
                Err(err) => {
                    if !state.lost {
                        tracing::warn!(target: "hub::changes", %err,
                            "data-change watch cannot reach the database; changes hub did \
                             not make show when TTLs end until it can");
                    }
                    state.lost = true;
                    return;
                }
            },
        };
        match current.check(horizon(crate::time::now())).await {
            Ok(changes) => report(&self.cache, &changes).await,
            Err(err) => {
                if !state.lost {
                    tracing::warn!(target: "hub::changes", %err,
                        "data-change watch lost the database; reconnecting");
                }
                (state.lost, state.watcher) = (true, None);
            }
        }
    }
}

impl LookOnDemand for Looks {
    fn look(&self, since: Instant) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.look_now(since, Trigger::Demand))
    }
}

/// The start of the hour of `now`: kept past counts end at or before it.
fn horizon(now: NaiveDateTime) -> NaiveDateTime {
    now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now)
}

/// Tells `cache` about `changes`: the tables that only grew at the present, and the others.
async fn report(cache: &ResponseCache, changes: &[TableChange]) {
    if changes.is_empty() {
        return;
    }
    let tables = |reaches_past: bool| -> Vec<Table> {
        changes
            .iter()
            .filter(|c| c.reaches_past == reaches_past)
            .map(|c| c.table)
            .collect()
    };
    let (past, grew) = (tables(true), tables(false));
    tracing::debug!(target: "hub::changes", ?past, ?grew, "tables changed");
    if !past.is_empty() {
        cache.tables_changed(&past).await;
    }
    if !grew.is_empty() {
        cache.tables_grew(&grew).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_is_the_start_of_the_hour() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(
            horizon(at("2026-12-07 10:59:59.999")),
            at("2026-12-07 10:00:00")
        );
        assert_eq!(
            horizon(at("2026-12-07 11:00:00")),
            at("2026-12-07 11:00:00")
        );
    }
}
