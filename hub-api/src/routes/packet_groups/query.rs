//! SQL of `/api/v1/packet-groups`: the grouping and pagination query, the representative
//! rows of a page, and the receptions of one group with their path hops.

use crate::error::ApiError;
use crate::params::{Bound, Order, contains_pattern, datetime_bound, sql};
use crate::query::list::{sqlite_nulls, text_order};
use crate::query::raw_packets::{PacketRow, packet_columns};
use hub_core::entity::{packet_path_hops, raw_packets};
use hub_core::time::Timestamp;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::HashMap;

/// Most values bound in one `IN (...)` list (below SQLite's parameter limit).
const CHUNK: usize = 500;

/// Row filters of the group list (they decide which rows are counted), plus the
/// `path_hash_bytes` group filter.
#[derive(Debug)]
pub(super) struct GroupFilters {
    /// Lowercased search text; matches packet hash or observer name.
    pub search: Option<String>,
    pub event_type: Option<String>,
    pub channel_idx: Option<i64>,
    pub path_hash_bytes: Option<i64>,
    /// Always set: the handler defaults it to the last 7 days.
    pub since: chrono::NaiveDateTime,
    pub until: Option<chrono::NaiveDateTime>,
}

/// Sort of the group list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GroupSort {
    /// First reception (MIN received_at).
    Time,
    /// MIN(event_type).
    EventType,
    /// Number of matching receptions.
    ReceptionCount,
}

impl GroupSort {
    /// The exact known names; anything else sorts by time.
    pub fn parse(value: Option<&str>) -> GroupSort {
        match value {
            Some("event_type") => GroupSort::EventType,
            Some("reception_count") => GroupSort::ReceptionCount,
            _ => GroupSort::Time,
        }
    }
}

/// One group of the list: aggregates over its matching rows.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct GroupAggregate {
    pub packet_hash: String,
    pub reception_count: i64,
    pub observer_count: i64,
    pub first_seen: Timestamp,
    pub path_hash_bytes: Option<i32>,
}

fn row_condition(backend: DbBackend, filters: &GroupFilters) -> Condition {
    use raw_packets::Column as C;
    let mut cond = Condition::all()
        .add(C::PacketHash.is_not_null())
        .add(C::ReceivedAt.gte(datetime_bound(backend, filters.since, Bound::Lower)));
    if let Some(until) = filters.until {
        cond = cond.add(C::ReceivedAt.lte(datetime_bound(backend, until, Bound::Upper)));
    }
    if let Some(search) = &filters.search {
        let pattern = contains_pattern(search);
        cond = cond.add(
            Condition::any()
                .add(sql(
                    backend,
                    "LOWER(raw_packets.packet_hash) LIKE ? ESCAPE '\\'",
                    [pattern.clone()],
                ))
                .add(sql(
                    backend,
                    "raw_packets.observer_node_id IN (SELECT obs.id FROM nodes obs \
                     WHERE LOWER(obs.name) LIKE ? ESCAPE '\\')",
                    [pattern],
                )),
        );
    }
    if let Some(event_type) = &filters.event_type {
        cond = cond.add(C::EventType.eq(event_type.clone()));
    }
    if let Some(idx) = filters.channel_idx {
        cond = cond.add(C::ChannelIdx.eq(idx));
    }
    cond
}

/// One page of groups and the number of groups.
pub(super) async fn list_groups(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    sort: GroupSort,
    order: Order,
    limit: u64,
    offset: u64,
) -> Result<(Vec<GroupAggregate>, u64), ApiError> {
    let backend = db.get_database_backend();
    let mut grouped = raw_packets::Entity::find()
        .filter(row_condition(backend, filters))
        .select_only()
        .column(raw_packets::Column::PacketHash)
        .column_as(Expr::cust("COUNT(raw_packets.id)"), "reception_count")
        .column_as(
            Expr::cust("COUNT(DISTINCT raw_packets.observer_node_id)"),
            "observer_count",
        )
        .column_as(Expr::cust("MIN(raw_packets.received_at)"), "first_seen")
        .column_as(
            Expr::cust("MAX(raw_packets.path_hash_bytes)"),
            "path_hash_bytes",
        )
        .group_by(raw_packets::Column::PacketHash);
    if let Some(width) = filters.path_hash_bytes {
        grouped = grouped.having(sql(
            backend,
            "MAX(raw_packets.path_hash_bytes) = ?",
            [width],
        ));
    }
    let total = grouped.clone().count(db).await?;

    let key = match sort {
        GroupSort::Time => Expr::cust("MIN(raw_packets.received_at)"),
        GroupSort::EventType => match backend {
            DbBackend::Postgres => Expr::cust("MIN(raw_packets.event_type COLLATE \"C\")"),
            _ => Expr::cust("MIN(raw_packets.event_type)"),
        },
        GroupSort::ReceptionCount => Expr::cust("COUNT(raw_packets.id)"),
    };
    let mut page = grouped.limit(limit).offset(offset);
    QueryTrait::query(&mut page)
        .order_by_expr_with_nulls(key, order.sea(), sqlite_nulls(order))
        .order_by_expr(text_order(backend, "raw_packets.packet_hash"), order.sea());
    let groups = page.into_model::<GroupAggregate>().all(db).await?;
    Ok((groups, total))
}

/// Every row of each of `hashes`, with no window and no filters, oldest first (ties by id).
pub(super) async fn rows_of_groups(
    db: &DatabaseConnection,
    hashes: &[String],
) -> Result<Vec<PacketRow>, ApiError> {
    let backend = db.get_database_backend();
    let mut rows = Vec::new();
    for chunk in hashes.chunks(CHUNK) {
        let mut select = packet_columns(
            raw_packets::Entity::find()
                .filter(raw_packets::Column::PacketHash.is_in(chunk.iter().cloned())),
        );
        QueryTrait::query(&mut select)
            .order_by(raw_packets::Column::ReceivedAt, sea_orm::Order::Asc)
            .order_by_expr(text_order(backend, "raw_packets.id"), sea_orm::Order::Asc);
        rows.extend(select.into_model::<PacketRow>().all(db).await?);
    }
    // Chunks are each in order; the page's hashes are few, so one stable sort restores it.
    rows.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
    Ok(rows)
}

/// The node hashes of each packet's path, in position order, keyed by raw packet id.
/// Packets without hop rows are absent.
pub(super) async fn hops_by_packet(
    db: &DatabaseConnection,
    packet_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut by_packet: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in packet_ids.chunks(CHUNK) {
        let hops = packet_path_hops::Entity::find()
            .filter(packet_path_hops::Column::RawPacketId.is_in(chunk.iter().cloned()))
            .order_by_asc(packet_path_hops::Column::RawPacketId)
            .order_by_asc(packet_path_hops::Column::Position)
            .all(db)
            .await?;
        for hop in hops {
            by_packet
                .entry(hop.raw_packet_id)
                .or_default()
                .push(hop.node_hash);
        }
    }
    Ok(by_packet)
}
