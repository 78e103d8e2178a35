//! The event tables whose rows one observer stores and others may also hear (telemetry,
//! trace paths): their `observed_by` and time filters, and each row's observers.
//!
//! Adverts and messages record their observers the same way but are filtered and read with
//! more (flood-only adverts, message visibility), so they keep their own code.

use crate::error::ApiError;
use crate::query::filters::{ObserverPlan, observed_by_condition, observer_ids};
use crate::query::lookups::{ObserverRead, observer_names, observers_by_event};
use crate::query::time_window::TimeWindow;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};

/// An event table whose rows a primary observer stores, with every observer that heard the
/// event in `event_observers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeardTable {
    /// `telemetry`.
    Telemetry,
    /// `trace_paths`.
    TracePaths,
}

impl HeardTable {
    /// The table's name.
    fn table(self) -> &'static str {
        match self {
            HeardTable::Telemetry => "telemetry",
            HeardTable::TracePaths => "trace_paths",
        }
    }

    /// The `event_observers.event_type` of its rows.
    fn event_type(self) -> &'static str {
        match self {
            HeardTable::Telemetry => "telemetry",
            HeardTable::TracePaths => "trace",
        }
    }
}

/// The filters every list of a [`HeardTable`] takes, already parsed.
#[derive(Debug, Default)]
pub(crate) struct HeardFilters {
    /// Lowercased observer public keys (any of them).
    pub(crate) observed_by: Vec<String>,
    /// The received_at window.
    pub(crate) window: TimeWindow,
}

impl HeardFilters {
    /// `cond` restricted to the rows of `table` heard by one of the observers and received
    /// (`received_at`) within the window.
    pub(crate) async fn restrict(
        &self,
        db: &DatabaseConnection,
        table: HeardTable,
        mut cond: Condition,
        received_at: impl ColumnTrait,
    ) -> Result<Condition, ApiError> {
        let backend = db.get_database_backend();
        let observers = observer_ids(db, &self.observed_by).await?;
        if let Some(observed) = observed_by_condition(
            backend,
            table.table(),
            table.event_type(),
            observers.as_deref(),
            ObserverPlan::ByEvent,
        ) {
            cond = cond.add(observed);
        }
        Ok(cond.add(self.window.condition(backend, received_at)))
    }
}

/// A row of a [`HeardTable`] as its endpoints read it.
pub(crate) trait HeardRow {
    /// The node id of the observer that stored it.
    fn observer_node_id(&self) -> &Option<String>;
    /// The event hash its observers are recorded under (unique in its table).
    fn event_hash(&self) -> &Option<String>;
}

/// Who heard a row.
#[derive(Debug, Clone)]
pub(crate) struct Hearing {
    /// Public key of the observer that stored it.
    pub(crate) observed_by: Option<String>,
    /// Every observer that heard it, oldest first (empty without an event hash).
    pub(crate) observers: Vec<ObserverRead>,
}

/// `rows` of `table` turned into reads by `read`, each given who heard it, in their order.
pub(crate) async fn reads_with_hearing<R: HeardRow, T>(
    db: &DatabaseConnection,
    table: HeardTable,
    rows: Vec<R>,
    read: impl Fn(R, Hearing) -> T,
) -> Result<Vec<T>, ApiError> {
    let names = observer_names(db, rows.iter().map(HeardRow::observer_node_id)).await?;
    let mut observers = observers_by_event(
        db,
        table.event_type(),
        rows.iter().map(HeardRow::event_hash),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let hearing = Hearing {
                observed_by: row
                    .observer_node_id()
                    .as_ref()
                    .and_then(|id| names.get(id))
                    .map(|n| n.public_key.clone()),
                // The event hash is unique in the table, so each list is taken once.
                observers: row
                    .event_hash()
                    .as_ref()
                    .and_then(|h| observers.remove(h))
                    .unwrap_or_default(),
            };
            read(row, hearing)
        })
        .collect())
}

/// The read of one row of `table`, if there is one, with who heard it.
pub(crate) async fn read_with_hearing<R: HeardRow, T>(
    db: &DatabaseConnection,
    table: HeardTable,
    row: Option<R>,
    read: impl Fn(R, Hearing) -> T,
) -> Result<Option<T>, ApiError> {
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(reads_with_hearing(db, table, vec![row], read).await?.pop())
}
