//! The `meshcore_*` series of `/metrics`: the mesh network itself, as MeshCore Hub's API
//! exposes it (its `api/metrics.py`), so that its dashboards and its `NodeNotSeen` alert rule
//! work unchanged against hub (docs/metrics.md#network-series).
//!
//! The series are read from the database at most once per `METRICS_CACHE_TTL`
//! ([`NetworkMetrics::families`]); scrapes in between, and scrapes arriving while a reading
//! is under way, share the last reading.

use crate::query::day_counts::count_rows;
use chrono::{Duration as ChronoDuration, NaiveDateTime};
use hub_core::entity::{
    advertisements, events_log, messages, nodes, route_results, routes, telemetry, trace_paths,
    user_profile_nodes,
};
use hub_core::roles::role_names;
use hub_core::time::Timestamp;
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, GaugeVec, Opts, Registry};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect, Select,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// The windows of the `window` label, with their length in hours, as MeshCore Hub names them.
pub const WINDOWS: [(&str, i64); 4] = [("1h", 1), ("24h", 24), ("7d", 168), ("30d", 720)];

/// `meshcore_route_quality` of each route quality; any other stored quality reads as unknown.
pub fn quality_value(quality: &str) -> f64 {
    match quality {
        "clear" => 0.0,
        "marginal" => 1.0,
        "failing" => 2.0,
        _ => 3.0,
    }
}

/// The `route` label of a route: its two labels joined as MeshCore Hub joins them.
pub fn route_label(from_label: &str, to_label: &str) -> String {
    format!("{from_label} -> {to_label}")
}

/// A node's id, public key, name, type and last sighting.
type SeenNode = (String, String, Option<String>, Option<String>, Timestamp);

/// The last reading of the network series and when it was taken.
type Reading = (Instant, Arc<Vec<MetricFamily>>);

/// The network series of one app, read from `db` at most once per `ttl`.
pub struct NetworkMetrics {
    db: DatabaseConnection,
    ttl: Duration,
    /// Held for the whole of a reading, so concurrent scrapes wait for it and share it
    /// rather than each querying the database.
    last: Mutex<Option<Reading>>,
}

impl std::fmt::Debug for NetworkMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkMetrics")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl NetworkMetrics {
    /// Series of the network in `db`, re-read when the last reading is `ttl` old.
    pub fn new(db: DatabaseConnection, ttl: Duration) -> Self {
        NetworkMetrics {
            db,
            ttl,
            last: Mutex::new(None),
        }
    }

    /// The series: the last reading while it is younger than the TTL, else a new one.
    ///
    /// A failed reading is not kept: the next scrape tries again.
    pub async fn families(&self) -> Result<Arc<Vec<MetricFamily>>, DbErr> {
        let mut last = self.last.lock().await;
        if let Some((taken, families)) = last.as_ref()
            && taken.elapsed() < self.ttl
        {
            return Ok(Arc::clone(families));
        }
        let families = Arc::new(read(&self.db).await?);
        *last = Some((Instant::now(), Arc::clone(&families)));
        Ok(families)
    }
}

/// A registry of this reading's gauges; each is registered as it is made.
struct Gauges(Registry);

impl Gauges {
    fn plain(&self, name: &str, help: &str, value: f64) {
        let gauge = Gauge::new(name, help).expect("valid metric");
        gauge.set(value);
        self.0
            .register(Box::new(gauge))
            .expect("metric registered once");
    }

    fn labelled(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        let vec = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
        self.0
            .register(Box::new(vec.clone()))
            .expect("metric registered once");
        vec
    }

    /// A gauge of how many rows `select` finds.
    async fn counted<E: EntityTrait>(
        &self,
        db: &DatabaseConnection,
        name: &str,
        help: &str,
        select: Select<E>,
    ) -> Result<(), DbErr> {
        self.plain(name, help, count_rows(db, select).await? as f64);
        Ok(())
    }

    /// A gauge labelled by `window`: for each of [`WINDOWS`], how many rows of `select` have
    /// `time` at or after `now` less the window.
    async fn counted_per_window<E: EntityTrait>(
        &self,
        db: &DatabaseConnection,
        name: &str,
        help: &str,
        select: Select<E>,
        time: E::Column,
        now: NaiveDateTime,
    ) -> Result<(), DbErr> {
        let gauge = self.labelled(name, help, &["window"]);
        for (window, hours) in WINDOWS {
            let recent = select
                .clone()
                .filter(time.gte(now - ChronoDuration::hours(hours)));
            gauge
                .with_label_values(&[window])
                .set(count_rows(db, recent).await? as f64);
        }
        Ok(())
    }
}

/// Reads every network series from the database.
async fn read(db: &DatabaseConnection) -> Result<Vec<MetricFamily>, DbErr> {
    let gauges = Gauges(Registry::new());
    let now = hub_core::time::now();
    let since = |hours: i64| now - ChronoDuration::hours(hours);

    gauges
        .labelled(
            "meshcore_info",
            "MeshCore Hub application info",
            &["version"],
        )
        .with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1.0);

    // Nodes.
    gauges
        .counted(
            db,
            "meshcore_nodes_total",
            "Total number of nodes",
            nodes::Entity::find(),
        )
        .await?;
    gauges
        .counted_per_window(
            db,
            "meshcore_nodes_active",
            "Number of active nodes in time window",
            nodes::Entity::find(),
            nodes::Column::LastSeen,
            now,
        )
        .await?;
    let by_type = gauges.labelled(
        "meshcore_nodes_by_type",
        "Number of nodes by advertisement type",
        &["adv_type"],
    );
    for (adv_type, count) in grouped_counts(db, nodes::Entity::find(), nodes::Column::AdvType)
        .await?
        .into_iter()
        .map(|(t, n): (Option<String>, i64)| (t.unwrap_or_else(|| UNKNOWN.into()), n))
        .fold(BTreeMap::<String, i64>::new(), |mut sums, (t, n)| {
            // A NULL type and a stored "unknown" are one label value: their counts add up.
            *sums.entry(t).or_default() += n;
            sums
        })
    {
        by_type.with_label_values(&[&adv_type]).set(count as f64);
    }
    let located = nodes::Entity::find()
        .filter(nodes::Column::Lat.is_not_null())
        .filter(nodes::Column::Lon.is_not_null());
    gauges
        .counted(
            db,
            "meshcore_nodes_with_location",
            "Number of nodes with GPS coordinates",
            located,
        )
        .await?;
    let adopted_ids: HashSet<String> = user_profile_nodes::Entity::find()
        .select_only()
        .column(user_profile_nodes::Column::NodeId)
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    gauges
        .counted(
            db,
            "meshcore_nodes_adopted",
            "Number of adopted nodes (nodes with an adoption record)",
            user_profile_nodes::Entity::find(),
        )
        .await?;
    let last_seen = gauges.labelled(
        "meshcore_node_last_seen_timestamp_seconds",
        "Unix timestamp of when the node was last seen",
        &["public_key", "node_name", "adv_type", "adopted"],
    );
    let seen: Vec<SeenNode> = nodes::Entity::find()
        .select_only()
        .columns([
            nodes::Column::Id,
            nodes::Column::PublicKey,
            nodes::Column::Name,
            nodes::Column::AdvType,
            nodes::Column::LastSeen,
        ])
        .filter(nodes::Column::LastSeen.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    for (id, public_key, name, adv_type, seen_at) in seen {
        let adopted = if adopted_ids.contains(&id) {
            "true"
        } else {
            "false"
        };
        last_seen
            .with_label_values(&[
                public_key.as_str(),
                name.as_deref().unwrap_or(""),
                adv_type.as_deref().unwrap_or(UNKNOWN),
                adopted,
            ])
            .set(unix_seconds(seen_at));
    }

    // Messages, advertisements and the other event tables.
    let messages_total = gauges.labelled(
        "meshcore_messages_total",
        "Total number of messages by type",
        &["type"],
    );
    let message_type = messages::Column::MessageType;
    for (kind, count) in
        grouped_counts::<_, _, String>(db, messages::Entity::find(), message_type).await?
    {
        messages_total.with_label_values(&[&kind]).set(count as f64);
    }
    let messages_received = gauges.labelled(
        "meshcore_messages_received",
        "Messages received in time window by type",
        &["type", "window"],
    );
    for (window, hours) in WINDOWS {
        let recent =
            messages::Entity::find().filter(messages::Column::ReceivedAt.gte(since(hours)));
        for (kind, count) in grouped_counts::<_, _, String>(db, recent, message_type).await? {
            messages_received
                .with_label_values(&[kind.as_str(), window])
                .set(count as f64);
        }
    }
    gauges
        .counted(
            db,
            "meshcore_advertisements_total",
            "Total number of advertisements",
            advertisements::Entity::find(),
        )
        .await?;
    gauges
        .counted_per_window(
            db,
            "meshcore_advertisements_received",
            "Advertisements received in time window",
            advertisements::Entity::find(),
            advertisements::Column::ReceivedAt,
            now,
        )
        .await?;
    gauges
        .counted(
            db,
            "meshcore_telemetry_total",
            "Total number of telemetry records",
            telemetry::Entity::find(),
        )
        .await?;
    gauges
        .counted(
            db,
            "meshcore_trace_paths_total",
            "Total number of trace path records",
            trace_paths::Entity::find(),
        )
        .await?;
    let events = gauges.labelled(
        "meshcore_events_total",
        "Total events by type from event log",
        &["event_type"],
    );
    let event_type = events_log::Column::EventType;
    for (kind, count) in
        grouped_counts::<_, _, String>(db, events_log::Entity::find(), event_type).await?
    {
        events.with_label_values(&[&kind]).set(count as f64);
    }

    // Profiles.
    let role_lists = crate::query::profiles::role_lists(db).await?;
    gauges.plain(
        "meshcore_user_profiles_total",
        "Total number of user profiles",
        role_lists.len() as f64,
    );
    let by_role = gauges.labelled(
        "meshcore_user_profiles_by_role",
        "Number of user profiles by role",
        &["role"],
    );
    for (role, count) in profiles_by_role(role_lists.iter().map(Option::as_deref)) {
        by_role.with_label_values(&[&role]).set(count as f64);
    }

    // Routes: every enabled route, with its last evaluation when there is one.
    let route_gauge = |name: &str, help: &str| gauges.labelled(name, help, &["route"]);
    let healthy = route_gauge(
        "meshcore_route_healthy",
        "1 if route quality is clear or marginal, else 0",
    );
    let quality = route_gauge(
        "meshcore_route_quality",
        "Route quality band (0=clear, 1=marginal, 2=failing, 3=unknown)",
    );
    let matched = route_gauge(
        "meshcore_route_matched_packets",
        "Distinct matched packets in window (lower bound when clear)",
    );
    let threshold = route_gauge("meshcore_route_threshold", "Route packet count threshold");
    let enabled: Vec<(String, String, String, i32)> = routes::Entity::find()
        .select_only()
        .columns([
            routes::Column::Id,
            routes::Column::FromLabel,
            routes::Column::ToLabel,
            routes::Column::PacketCountThreshold,
        ])
        .filter(routes::Column::Enabled.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    let results: Vec<(String, String, i32)> = route_results::Entity::find()
        .select_only()
        .columns([
            route_results::Column::RouteId,
            route_results::Column::Quality,
            route_results::Column::MatchedCount,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let results: HashMap<String, (String, i32)> = results
        .into_iter()
        .map(|(route_id, quality, matched)| (route_id, (quality, matched)))
        .collect();
    for (id, from_label, to_label, packet_threshold) in enabled {
        let label = route_label(&from_label, &to_label);
        let (route_quality, matched_count) = results
            .get(&id)
            .map(|(q, n)| (q.as_str(), *n))
            .unwrap_or((UNKNOWN, 0));
        let is_healthy = matches!(route_quality, "clear" | "marginal");
        healthy
            .with_label_values(&[&label])
            .set(if is_healthy { 1.0 } else { 0.0 });
        quality
            .with_label_values(&[&label])
            .set(quality_value(route_quality));
        matched
            .with_label_values(&[&label])
            .set(f64::from(matched_count));
        threshold
            .with_label_values(&[&label])
            .set(f64::from(packet_threshold));
    }

    Ok(gauges.0.gather())
}

/// The label value of a missing type or quality.
const UNKNOWN: &str = "unknown";

/// `(value, rows)` of `select` grouped by `column`.
async fn grouped_counts<E, C, V>(
    db: &DatabaseConnection,
    select: sea_orm::Select<E>,
    column: C,
) -> Result<Vec<(V, i64)>, DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
    V: sea_orm::TryGetable,
{
    select
        .select_only()
        .column(column)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(column)
        .into_tuple::<(V, i64)>()
        .all(db)
        .await
}

/// Profiles per role name: each profile counts once for every role its comma list holds
/// exactly (trimmed; see docs/upgrading.md for how MeshCore Hub's substring match differs).
pub fn profiles_by_role<'a>(
    role_lists: impl IntoIterator<Item = Option<&'a str>>,
) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for list in role_lists {
        let held: BTreeSet<String> = role_names(list).into_iter().collect();
        for role in held {
            *counts.entry(role).or_default() += 1;
        }
    }
    counts
}

/// Seconds since the Unix epoch of a UTC database time, with its microseconds.
fn unix_seconds(at: Timestamp) -> f64 {
    at.0.and_utc().timestamp_micros() as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_count_each_profile_once_per_exact_name() {
        let counts = profiles_by_role([
            Some("admin, member"),
            Some("member,member"),
            Some("members"),
            Some(""),
            None,
        ]);
        let expected: BTreeMap<String, i64> = [("admin", 1), ("member", 2), ("members", 1)]
            .into_iter()
            .map(|(r, n)| (r.to_string(), n))
            .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn qualities_and_labels() {
        assert_eq!(quality_value("clear"), 0.0);
        assert_eq!(quality_value("marginal"), 1.0);
        assert_eq!(quality_value("failing"), 2.0);
        assert_eq!(quality_value("unknown"), 3.0);
        assert_eq!(quality_value("no_coverage"), 3.0);
        assert_eq!(route_label("Ipswich", "Norwich"), "Ipswich -> Norwich");
    }
}
