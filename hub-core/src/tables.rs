//! MeshCore Hub's tables: the unit of freshness (docs/caching.md, "Freshness by data").
//!
//! Every cached read declares the tables it reads (`#[cached(reads = [nodes, node_tags])]`)
//! and every write the tables it changes (`#[invalidates(node_tags)]`). Each table has a
//! generation; a cached response is valid while the generations of the tables it read are
//! those it was computed under, and a change to a table, whoever made it (a write of hub's,
//! the collector, an operator's SQL seen by [`crate::changes`]), bumps that table's generation.
//!
//! ```
//! use hub_core::tables::Table;
//! assert_eq!(Table::NodeTags.name(), "node_tags");
//! assert_eq!(Table::from_name("raw_packets"), Some(Table::RawPackets));
//! assert_eq!(Table::ALL.len(), 19);
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

macro_rules! tables {
    ($($variant:ident => $name:ident: $doc:literal,)*) => {
        /// One of MeshCore Hub's tables (the schema of `migration/`, without `alembic_version`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Table {
            $(#[doc = $doc] $variant,)*
        }

        impl Table {
            /// Every table, in schema order.
            pub const ALL: &'static [Table] = &[$(Table::$variant,)*];

            /// The table's SQL name, also its name in generation keys and metrics.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Table::$variant => stringify!($name),)*
                }
            }
        }

        /// Each [`Table`] under its SQL name: what `#[cached(reads = [...])]` and
        /// `#[invalidates(...)]` expand their table names to, so that a name that is not a
        /// table fails the build at the name, with the compiler's suggestion of the closest.
        #[allow(non_upper_case_globals)]
        pub mod by_name {
            use super::Table;
            $(#[doc = $doc] pub const $name: Table = Table::$variant;)*
        }
    };
}

tables! {
    Nodes => nodes: "Nodes heard on the mesh; the collector updates `last_seen`.",
    NodeTags => node_tags: "Operator-set key/value tags of nodes.",
    Advertisements => advertisements: "Adverts as received (collector inserts).",
    Messages => messages: "Channel and direct messages (collector inserts).",
    RawPackets => raw_packets: "Every packet as received (collector inserts).",
    PacketPathHops => packet_path_hops: "The hops of each raw packet's path (collector inserts).",
    Telemetry => telemetry: "Telemetry readings (collector inserts).",
    TracePaths => trace_paths: "Trace-path results (collector inserts).",
    EventsLog => events_log: "Other collector events (collector inserts).",
    EventObservers => event_observers: "Which observers heard an event (collector inserts).",
    Channels => channels: "Channel definitions and their visibility.",
    Routes => routes: "Mesh routes and their thresholds.",
    RouteNodes => route_nodes: "The nodes a route runs through.",
    RouteObservers => route_observers: "The observers a route is judged by.",
    RouteRecentMatches => route_recent_matches: "Recent packets matched to routes.",
    RouteResults => route_results: "Each route's latest evaluation.",
    RouteResultHistory => route_result_history: "Each route's evaluations by day.",
    UserProfiles => user_profiles: "Member profiles and their roles.",
    UserProfileNodes => user_profile_nodes: "Adoptions: which profile adopted which node.",
}

impl Table {
    /// The table named `name` (its SQL name), if it is one of MeshCore Hub's.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// In-process change counters, one per table: what values kept in memory across requests
/// (past-day counts, ...) are checked against. A kept value read while the tables it counts
/// stood at `of(tables) == v` is still true while `of(tables)` is `v`. Clones share the
/// counters.
///
/// ```
/// use hub_core::tables::{Table, TableVersions};
/// let versions = TableVersions::default();
/// let read_under = versions.of(&[Table::Messages, Table::Channels]);
/// versions.bump(Table::Nodes);
/// assert_eq!(versions.of(&[Table::Messages, Table::Channels]), read_under);
/// versions.clone().bump(Table::Channels);
/// assert_ne!(versions.of(&[Table::Messages, Table::Channels]), read_under);
/// ```
#[derive(Clone)]
pub struct TableVersions {
    counters: Arc<[AtomicU64; TABLE_COUNT]>,
    /// The data-change watch, once attached: [`current`](TableVersions::current) asks it to
    /// look before answering.
    looks: Arc<OnceLock<Arc<dyn LookOnDemand>>>,
}

const TABLE_COUNT: usize = Table::ALL.len();

impl Default for TableVersions {
    fn default() -> Self {
        TableVersions {
            counters: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
            looks: Arc::default(),
        }
    }
}

impl fmt::Debug for TableVersions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableVersions")
            .field("counters", &self.counters)
            .field("looks_on_demand", &self.looks.get().is_some())
            .finish()
    }
}

/// A look at the database on demand, which bumps the versions of the tables it finds changed:
/// the data-change watch ([`crate::changes::watch`]) attached with
/// [`TableVersions::look_with`].
pub trait LookOnDemand: Send + Sync + 'static {
    /// Returns once a look that started at or after `since` has counted what it found (at
    /// once when one has; without looking when the database cannot be reached).
    fn look(&self, since: Instant) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl TableVersions {
    /// Makes [`current`](Self::current) ask `looks` first, for these versions and their
    /// clones. The first one attached stays; `false` when one already was.
    pub fn look_with(&self, looks: Arc<dyn LookOnDemand>) -> bool {
        self.looks.set(looks).is_ok()
    }

    /// [`of`](Self::of) `tables` once every change committed before this call that the
    /// attached watch can see is counted: what a kept value read now must be checked against.
    /// Without a watch attached, `of(tables)` at once.
    pub async fn current(&self, tables: &[Table]) -> u64 {
        if let Some(looks) = self.looks.get() {
            looks.look(Instant::now()).await;
        }
        self.of(tables)
    }

    /// Records a change of `table`.
    pub fn bump(&self, table: Table) {
        self.counters[table as usize].fetch_add(1, Ordering::AcqRel);
    }

    /// A number that changes whenever one of `tables` changes (the sum of their counters,
    /// which only grow).
    pub fn of(&self, tables: &[Table]) -> u64 {
        tables
            .iter()
            .map(|t| self.counters[*t as usize].load(Ordering::Acquire))
            .fold(0, u64::wrapping_add)
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, t) in Table::ALL.iter().enumerate() {
            assert_eq!(Table::from_name(t.name()), Some(*t));
            assert!(!Table::ALL[i + 1..].contains(t));
        }
        assert_eq!(Table::from_name("alembic_version"), None);
    }
}
