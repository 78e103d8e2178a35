//! What the event tables (advertisements, messages, telemetry, trace_paths) share: their
//! events, drawn up front and handed out oldest first, and the event_observers rows of the
//! observers that heard one.

use super::{Gen, Stopped};
use crate::seed::tables::Table;
use sea_orm::Value;
use std::vec;

/// Route types with weights; NULL is what older collectors stored.
const ROUTE_TYPES: &[(Option<&str>, u32)] = &[
    (Some("flood"), 55),
    (Some("transport_flood"), 15),
    (Some("direct"), 20),
    (None, 10),
];

/// The events of one table, drawn up front (see [`Gen::events`]), oldest first.
pub(super) struct Events {
    ages: vec::IntoIter<i64>,
    observations: vec::IntoIter<Option<usize>>,
    ids: vec::IntoIter<String>,
    hashes: vec::IntoIter<String>,
    observer_row_ids: vec::IntoIter<String>,
}

/// One event of a table.
pub(super) struct Event {
    /// Microseconds before the anchor.
    pub(super) age: i64,
    /// The id of its row.
    pub(super) id: String,
    /// How observers heard it; `None` for an event without event hash.
    pub(super) heard: Option<Heard>,
}

impl Event {
    /// Its event hash, if it has one.
    pub(super) fn event_hash(&self) -> Option<String> {
        self.heard.as_ref().map(|heard| heard.hash.clone())
    }
}

/// An event with an event hash, and the observers that heard it.
pub(super) struct Heard {
    hash: String,
    /// The ids of its event_observers rows, one per observer: the primary observer first.
    row_ids: Vec<String>,
}

impl Iterator for Events {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let age = self.ages.next()?;
        let observed = self.observations.next().expect("an observation per event");
        let heard = observed.map(|extra| Heard {
            hash: self.hashes.next().expect("a hash per event"),
            row_ids: self.observer_row_ids.by_ref().take(extra + 1).collect(),
        });
        Some(Event {
            age,
            id: self.ids.next().expect("an id per event"),
            heard,
        })
    }
}

impl Gen {
    /// `n` events of a table: their ages, how each was heard, and the ids and hashes of their
    /// rows and event_observers rows, each drawn sorted.
    pub(super) fn events(&mut self, n: usize) -> Events {
        let ages = self.event_ages(n);
        let observations = self.observations(ages.len());
        let ids = self.sorted_uuids(ages.len());
        let hashes = self.sorted_hex(observations.iter().flatten().count(), 16);
        let observer_row_ids =
            self.sorted_uuids(observations.iter().flatten().map(|e| e + 1).sum());
        Events {
            ages: ages.into_iter(),
            observations: observations.into_iter(),
            ids,
            hashes,
            observer_row_ids,
        }
    }

    /// How events are observed, drawn for all events up front so that their ids and hashes
    /// can be drawn sorted: `None` for an event without event hash (2%), else the number of
    /// observers besides the primary one (up to three).
    fn observations(&mut self, events: usize) -> Vec<Option<usize>> {
        let most = self.observers.len() - 1;
        (0..events)
            .map(|_| {
                self.chance(0.98)
                    .then(|| [0, 1, 2, 3][self.weighted([50, 30, 15, 5])].min(most))
            })
            .collect()
    }

    /// event_observers rows for one event: the primary observer first, then the others that
    /// heard it, a little later each over longer paths.
    pub(super) fn observe(
        &mut self,
        event_type: &'static str,
        heard: Heard,
        primary: usize,
        age: i64,
        path_len: i32,
    ) -> Result<(), Stopped> {
        let mut seen = vec![primary];
        let mut observed_age = age;
        for (k, id) in heard.row_ids.into_iter().enumerate() {
            let o = if k == 0 {
                primary
            } else {
                loop {
                    let o = self.observer();
                    if !seen.contains(&o) {
                        seen.push(o);
                        break o;
                    }
                }
            };
            if k > 0 {
                observed_age = (observed_age - self.age_between(100_000, 3_000_000)).max(0);
            }
            let snr = self.snr();
            let row = [
                id.into(),
                event_type.into(),
                heard.hash.as_str().into(),
                self.nodes[o].id.clone().into(),
                Value::Double(Some(snr)),
                Value::Int(Some(path_len + k as i32)),
                self.ts(observed_age),
                self.ts(observed_age),
                self.ts(observed_age),
            ];
            self.out.push(Table::EventObservers, row)?;
        }
        Ok(())
    }

    /// When its sender's clock says it sent an event heard `age` ago: up to `skew` µs earlier,
    /// or NULL one time in ten (as some collectors store it).
    pub(super) fn sent_at(&mut self, age: i64, skew: i64) -> Value {
        if self.chance(0.9) {
            let sent_age = age + self.age_between(0, skew);
            self.ts(sent_age)
        } else {
            self.null_ts()
        }
    }

    /// A route type, as often as collectors store each.
    pub(super) fn route_type(&mut self) -> Option<&'static str> {
        ROUTE_TYPES[self.weighted(ROUTE_TYPES.iter().map(|r| r.1))].0
    }
}
