//! WHERE conditions shared by the list endpoints and the dashboard.
//!
//! Each one is the single definition of a rule of the contract: which adverts count as
//! flooded, which messages a role may read, which rows an observer heard, what is spam.

use crate::params::sql;
use hub_core::entity::{advertisements, messages};
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{ColumnTrait, Condition, DbBackend};
use std::collections::BTreeSet;

/// Route types that count as flood, kept when `route_type` is absent and counted by the
/// dashboard: adverts of other route types (`direct`) were only heard by a direct neighbour.
/// A NULL route type (rows from before the column existed) counts as flood too.
pub const FLOOD_ROUTE_TYPES: [&str; 2] = ["flood", "transport_flood"];

/// Adverts whose route type is one of `types` or unknown (NULL).
///
/// Stored route types are lowercase; comparing the bare column (not `LOWER()`) lets the
/// `(route_type, received_at)` index serve the filter.
pub fn route_type_in<V: Into<sea_orm::Value>>(types: impl IntoIterator<Item = V>) -> Condition {
    Condition::any()
        .add(advertisements::Column::RouteType.is_in(types))
        .add(advertisements::Column::RouteType.is_null())
}

/// Flood-only adverts (see [`FLOOD_ROUTE_TYPES`]).
pub fn flood_only() -> Condition {
    route_type_in(FLOOD_ROUTE_TYPES)
}

/// [`route_type_in`] for a query that reads adverts newest first and stops after a few (a
/// page, the recent list). On SQLite the unary `+` keeps the planner off the
/// `(route_type, received_at)` index: through it, it loads and sorts every matching advert
/// (160,000 at `large`, 0.5 s) instead of walking `(received_at, id)` and stopping after the
/// page. PostgreSQL chooses from its statistics and gets the plain condition.
pub fn route_type_in_newest_first(backend: DbBackend, types: &[String]) -> Condition {
    if backend == DbBackend::Postgres {
        return route_type_in(types.iter().cloned());
    }
    let placeholders = vec!["?"; types.len()].join(", ");
    let any_of = if types.is_empty() {
        String::new()
    } else {
        format!("+advertisements.route_type IN ({placeholders}) OR ")
    };
    Condition::all().add(sql(
        backend,
        &format!("({any_of}+advertisements.route_type IS NULL)"),
        types.iter().cloned(),
    ))
}

/// [`flood_only`] for a query that reads adverts newest first (see
/// [`route_type_in_newest_first`]).
pub fn flood_only_newest_first(backend: DbBackend) -> Condition {
    let flood: Vec<String> = FLOOD_ROUTE_TYPES.iter().map(|t| t.to_string()).collect();
    route_type_in_newest_first(backend, &flood)
}

/// Messages a caller who may read the channel indices `visible` may see: every non-channel
/// message, channel messages without an index, and channel messages on a visible index.
///
/// `visible` comes from [`visible_channels`](super::lookups::visible_channels) and always
/// holds the Public channel (17), so the `IN` list is never empty.
pub fn visible_messages(visible: &BTreeSet<i32>) -> Condition {
    Condition::any()
        .add(messages::Column::MessageType.ne("channel"))
        .add(messages::Column::ChannelIdx.is_null())
        .add(messages::Column::ChannelIdx.is_in(visible.iter().copied()))
}

/// Messages that are not spam at `threshold`: unscored ones, or scored below it.
pub fn not_spam(threshold: f64) -> Condition {
    Condition::any()
        .add(messages::Column::SpamScore.is_null())
        .add(messages::Column::SpamScore.lt(threshold))
}

/// Rows of `table` whose `event_hash` has an `event_observers` row of `event_type` from an
/// observer with one of `public_keys`. `None` when the list is empty (no filter).
///
/// Adverts, messages, telemetry and trace paths all record their extra observers this way.
pub fn observed_by_condition(
    backend: DbBackend,
    table: &str,
    event_type: &str,
    public_keys: &[String],
) -> Option<SimpleExpr> {
    if public_keys.is_empty() {
        return None;
    }
    let placeholders = vec!["?"; public_keys.len()].join(", ");
    let mut values = vec![event_type.to_string()];
    values.extend(public_keys.iter().cloned());
    Some(sql(
        backend,
        &format!(
            // IN (subquery) rather than a correlated EXISTS: the observers' events are found
            // once through their index and joined on the unique event_hash, instead of one
            // probe per candidate row (2x faster on the `large` seed).
            "{table}.event_hash IN (SELECT eo.event_hash FROM event_observers eo \
             JOIN nodes eon ON eon.id = eo.observer_node_id \
             WHERE eo.event_type = ? AND eon.public_key IN ({placeholders}))"
        ),
        values,
    ))
}
