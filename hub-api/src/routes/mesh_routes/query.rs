//! The SQL side of the routes group: candidate packets for the matching engine, and the
//! rows a route is shown with. Everything here works on SQLite and PostgreSQL alike.
//!
//! Text ids and hash ranges are compared in byte order on both backends (docs/contract/api-2.md
//! correction 15): SQLite's default collation already is; PostgreSQL gets `COLLATE "C"` on
//! the range, and candidate order is decided in Rust, where `String` ordering is bytewise.

use crate::params::{Bound, datetime_bound, sql};
use chrono::NaiveDateTime;
use hub_core::entity::{
    nodes, packet_path_hops, raw_packets, route_nodes, route_observers, route_recent_matches,
    routes,
};
use hub_core::route_matching::{Candidate, Hop, merge_candidates, needs_reverse_fetch, prefix_end};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, HashMap};

/// Most values bound in one `IN (...)` list (see `lookups`).
const CHUNK: usize = 500;

/// Where and when candidate hops are looked for.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// Hops received at or after this time.
    pub since: NaiveDateTime,
    /// Hops received before this time, when set.
    pub until: Option<NaiveDateTime>,
    /// Observer node ids to restrict to; empty means every observer.
    pub observers: &'a [String],
}

impl Window<'_> {
    /// The time and observer conditions on `packet_path_hops`.
    fn condition(&self, backend: DbBackend) -> Condition {
        let mut cond =
            Condition::all().add(packet_path_hops::Column::ReceivedAt.gte(datetime_bound(
                backend,
                self.since,
                Bound::Lower,
            )));
        if let Some(until) = self.until {
            // The shortest text of `until` sorts first among its spellings: a strict `<`
            // against it excludes every stored form of that instant (see `datetime_bound`).
            cond = cond.add(packet_path_hops::Column::ReceivedAt.lt(datetime_bound(
                backend,
                until,
                Bound::Lower,
            )));
        }
        if !self.observers.is_empty() {
            cond = cond.add(
                packet_path_hops::Column::ObserverNodeId.is_in(self.observers.iter().cloned()),
            );
        }
        cond
    }
}

/// `prefix <= node_hash < prefix_end(prefix)` in byte order.
fn prefix_range(backend: DbBackend, prefix: &str) -> Condition {
    let template = match backend {
        DbBackend::Postgres => {
            "(packet_path_hops.node_hash COLLATE \"C\" >= ? AND packet_path_hops.node_hash COLLATE \"C\" < ?)"
        }
        _ => "(packet_path_hops.node_hash >= ? AND packet_path_hops.node_hash < ?)",
    };
    Condition::all().add(sql(
        backend,
        template,
        [prefix.to_string(), prefix_end(prefix)],
    ))
}

/// Ids of the packets with a hop in `prefix`'s range inside `window`, ascending (bytewise).
async fn candidate_ids<C: ConnectionTrait>(
    db: &C,
    prefix: &str,
    window: &Window<'_>,
) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let mut ids: Vec<String> = packet_path_hops::Entity::find()
        .select_only()
        .column(packet_path_hops::Column::RawPacketId)
        .filter(prefix_range(backend, prefix))
        .filter(window.condition(backend))
        .group_by(packet_path_hops::Column::RawPacketId)
        .into_tuple()
        .all(db)
        .await?;
    ids.sort();
    Ok(ids)
}

/// Number of distinct packets with a hop in `prefix`'s range inside `window` (the preview's
/// truncation count).
pub async fn count_candidates<C: ConnectionTrait>(
    db: &C,
    prefix: &str,
    window: &Window<'_>,
) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let count = packet_path_hops::Entity::find()
        .select_only()
        .column(packet_path_hops::Column::RawPacketId)
        .filter(prefix_range(backend, prefix))
        .filter(window.condition(backend))
        .group_by(packet_path_hops::Column::RawPacketId)
        .count(db)
        .await?;
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

/// Every hop of each packet in `ids`, by packet id (bytewise) and position.
pub async fn hops_of<C: ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<Hop>>, DbErr> {
    let mut by_packet: BTreeMap<String, Vec<Hop>> = BTreeMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = packet_path_hops::Entity::find()
            .filter(packet_path_hops::Column::RawPacketId.is_in(chunk.iter().cloned()))
            .order_by_asc(packet_path_hops::Column::RawPacketId)
            .order_by_asc(packet_path_hops::Column::Position)
            .all(db)
            .await?;
        for row in rows {
            by_packet.entry(row.raw_packet_id).or_default().push(Hop {
                position: row.position,
                node_hash: row.node_hash,
                packet_hash: row.packet_hash,
                event_hash: row.event_hash,
                received_at: row.received_at.0,
                observer_node_id: row.observer_node_id,
            });
        }
    }
    for hops in by_packet.values_mut() {
        hops.sort_by_key(|h| h.position);
    }
    Ok(by_packet)
}

/// The candidates for `prefix`: packets with a hop in its range inside `window`, each with
/// all its hops, in ascending packet id order.
pub async fn candidates<C: ConnectionTrait>(
    db: &C,
    prefix: &str,
    window: &Window<'_>,
) -> Result<Vec<Candidate>, DbErr> {
    let ids = candidate_ids(db, prefix, window).await?;
    Ok(hops_of(db, &ids)
        .await?
        .into_iter()
        .map(|(raw_packet_id, hops)| Candidate {
            raw_packet_id,
            hops,
        })
        .collect())
}

/// The candidates of a route: those for its first expected hash, then (reversible routes
/// whose ends differ) those for its last hash not already present.
pub async fn candidates_both_ways<C: ConnectionTrait>(
    db: &C,
    expected: &[String],
    reversible: bool,
    window: &Window<'_>,
) -> Result<Vec<Candidate>, DbErr> {
    let Some(first) = expected.first() else {
        return Ok(Vec::new());
    };
    let forward = candidates(db, first, window).await?;
    if !needs_reverse_fetch(expected, reversible) {
        return Ok(forward);
    }
    let last = expected.last().unwrap_or(first);
    let reverse = candidates(db, last, window).await?;
    Ok(merge_candidates(forward, reverse))
}

/// Whether any hop at all was heard inside `window` (coverage, for unhealthy vs no_coverage).
pub async fn has_coverage<C: ConnectionTrait>(db: &C, window: &Window<'_>) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    Ok(packet_path_hops::Entity::find()
        .select_only()
        .column(packet_path_hops::Column::Id)
        .filter(window.condition(backend))
        .limit(1)
        .into_tuple::<String>()
        .one(db)
        .await?
        .is_some())
}

/// A route's path node with the node's name and key.
#[derive(Debug, Clone)]
pub struct PathNodeRow {
    /// The route_nodes row.
    pub row: route_nodes::Model,
    /// The node's advertised name.
    pub name: Option<String>,
    /// The node's public key; `None` if the node row is gone.
    pub public_key: Option<String>,
}

/// An observer of a route with the node's name and key.
#[derive(Debug, Clone)]
pub struct ObserverRow {
    /// The observer's node id.
    pub node_id: String,
    /// The node's advertised name.
    pub name: Option<String>,
    /// The node's public key.
    pub public_key: Option<String>,
}

/// Node name and public key of each node id.
pub async fn node_keys<C: ConnectionTrait>(
    db: &C,
    ids: impl Iterator<Item = String>,
) -> Result<HashMap<String, (Option<String>, String)>, DbErr> {
    let ids: Vec<String> = ids
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for node in nodes::Entity::find()
            .filter(nodes::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            found.insert(node.id, (node.name, node.public_key));
        }
    }
    Ok(found)
}

/// The path nodes of each route id, in position order.
pub async fn path_nodes<C: ConnectionTrait>(
    db: &C,
    route_ids: &[String],
) -> Result<HashMap<String, Vec<PathNodeRow>>, DbErr> {
    let mut rows = Vec::new();
    for chunk in route_ids.chunks(CHUNK) {
        rows.extend(
            route_nodes::Entity::find()
                .filter(route_nodes::Column::RouteId.is_in(chunk.iter().cloned()))
                .order_by_asc(route_nodes::Column::RouteId)
                .order_by_asc(route_nodes::Column::Position)
                .order_by_asc(route_nodes::Column::Id)
                .all(db)
                .await?,
        );
    }
    let names = node_keys(db, rows.iter().map(|r| r.node_id.clone())).await?;
    let mut by_route: HashMap<String, Vec<PathNodeRow>> = HashMap::new();
    for row in rows {
        let node = names.get(&row.node_id);
        by_route
            .entry(row.route_id.clone())
            .or_default()
            .push(PathNodeRow {
                name: node.and_then(|(name, _)| name.clone()),
                public_key: node.map(|(_, key)| key.clone()),
                row,
            });
    }
    Ok(by_route)
}

/// The observers of each route id, in insertion order (creation time, then id).
pub async fn observers<C: ConnectionTrait>(
    db: &C,
    route_ids: &[String],
) -> Result<HashMap<String, Vec<ObserverRow>>, DbErr> {
    let mut rows = Vec::new();
    for chunk in route_ids.chunks(CHUNK) {
        rows.extend(
            route_observers::Entity::find()
                .filter(route_observers::Column::RouteId.is_in(chunk.iter().cloned()))
                .order_by_asc(route_observers::Column::CreatedAt)
                .order_by_asc(route_observers::Column::Id)
                .all(db)
                .await?,
        );
    }
    let names = node_keys(db, rows.iter().map(|r| r.node_id.clone())).await?;
    let mut by_route: HashMap<String, Vec<ObserverRow>> = HashMap::new();
    for row in rows {
        let node = names.get(&row.node_id);
        by_route.entry(row.route_id).or_default().push(ObserverRow {
            name: node.and_then(|(name, _)| name.clone()),
            public_key: node.map(|(_, key)| key.clone()),
            node_id: row.node_id,
        });
    }
    Ok(by_route)
}

/// A persisted recent match with its packet's time and observer and all its hops.
#[derive(Debug, Clone)]
pub struct StoredMatch {
    /// The route_recent_matches row.
    pub row: route_recent_matches::Model,
    /// `raw_packets.packet_hash`.
    pub packet_hash: Option<String>,
    /// `raw_packets.received_at`.
    pub received_at: NaiveDateTime,
    /// `raw_packets.observer_node_id`.
    pub observer_node_id: Option<String>,
    /// Every hop of the packet, by position.
    pub hops: Vec<Hop>,
}

/// The route's persisted recent matches, newest packet first, at most `limit`.
pub async fn stored_matches(
    db: &DatabaseConnection,
    route_id: &str,
    limit: usize,
) -> Result<Vec<StoredMatch>, DbErr> {
    let rows = route_recent_matches::Entity::find()
        .filter(route_recent_matches::Column::RouteId.eq(route_id))
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|m| m.raw_packet_id.clone()).collect();
    let mut packets: HashMap<String, raw_packets::Model> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for packet in raw_packets::Entity::find()
            .filter(raw_packets::Column::Id.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            packets.insert(packet.id.clone(), packet);
        }
    }
    // The foreign key cascades, so a match always has its packet; one that does not is skipped.
    let mut joined: Vec<(route_recent_matches::Model, raw_packets::Model)> = rows
        .into_iter()
        .filter_map(|row| {
            let packet = packets.remove(&row.raw_packet_id)?;
            Some((row, packet))
        })
        .collect();
    joined.sort_by(|(_, a), (_, b)| {
        b.received_at
            .cmp(&a.received_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    joined.truncate(limit);
    let kept: Vec<String> = joined
        .iter()
        .map(|(m, _)| m.raw_packet_id.clone())
        .collect();
    let mut hops = hops_of(db, &kept).await?;
    Ok(joined
        .into_iter()
        .map(|(row, packet)| StoredMatch {
            hops: hops.remove(&row.raw_packet_id).unwrap_or_default(),
            row,
            packet_hash: packet.packet_hash,
            received_at: packet.received_at.0,
            observer_node_id: packet.observer_node_id,
        })
        .collect())
}

/// Every route, in no particular order (callers filter by visibility and sort).
pub async fn all_routes(db: &DatabaseConnection) -> Result<Vec<routes::Model>, DbErr> {
    routes::Entity::find().all(db).await
}

/// The route with this id, if any.
pub async fn route_by_id<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<routes::Model>, DbErr> {
    routes::Entity::find_by_id(id.to_string()).one(db).await
}

/// Number of nodes whose public key starts with `hash` ignoring case (`upper(substr(...))`),
/// the preview's collision count.
pub async fn count_key_prefix<C: ConnectionTrait>(db: &C, hash: &str) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let length = i32::try_from(hash.chars().count()).unwrap_or(0);
    let count = nodes::Entity::find()
        .filter(sql(
            backend,
            "upper(substr(nodes.public_key, 1, ?)) = ?",
            [
                sea_orm::Value::from(length),
                sea_orm::Value::from(hash.to_string()),
            ],
        ))
        .count(db)
        .await?;
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}
