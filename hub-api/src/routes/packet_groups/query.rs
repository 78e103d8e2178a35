//! SQL of `/api/v1/packet-groups`: the grouping and pagination query, the representative
//! rows of a page, and the receptions of one group with their path hops.

use crate::error::ApiError;
use crate::params::{Bound, Order, contains_pattern, datetime_bound, sql};
use crate::query::filters::{ids_of, is_one_of, unindexed_in};
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
pub(super) const CHUNK: usize = 500;

/// Row filters of the group list (they decide which rows are counted), plus the
/// `path_hash_bytes` group filter.
#[derive(Debug, Clone)]
pub struct GroupFilters {
    /// Lowercased search text; matches packet hash or observer name.
    pub search: Option<String>,
    /// The ids of the observers whose name contains `search`, resolved once for a request
    /// (by `list_groups`); `None`: the row filter looks the names up itself.
    /// Resolved, the row filter reads the row alone, so kept hours keyed by its SQL stay
    /// true when an observer is renamed (the ids, and so the key, change).
    pub search_observers: Option<Vec<String>>,
    /// Rows whose `event_type` equals this exactly.
    pub event_type: Option<String>,
    /// Rows of this channel index.
    pub channel_idx: Option<i64>,
    /// Groups whose widest hop hash (`MAX(path_hash_bytes)`) is this many bytes (1..3).
    pub path_hash_bytes: Option<i64>,
    /// Rows whose hop hashes are at least this many bytes wide: a row filter, unlike
    /// `path_hash_bytes`, by which `total.rs` counts the groups of a width.
    pub rows_at_least_bytes: Option<i64>,
    /// Always set: the handler defaults it to the last 7 days.
    pub since: chrono::NaiveDateTime,
    /// Rows received at or before this time (UTC).
    pub until: Option<chrono::NaiveDateTime>,
}

impl GroupFilters {
    /// No filter: every group with a row in `since..=until`.
    pub fn window(since: chrono::NaiveDateTime, until: Option<chrono::NaiveDateTime>) -> Self {
        GroupFilters {
            search: None,
            search_observers: None,
            event_type: None,
            channel_idx: None,
            path_hash_bytes: None,
            rows_at_least_bytes: None,
            since,
            until,
        }
    }
}

/// Sort of the group list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSort {
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
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
pub struct GroupAggregate {
    /// The packet hash the group's rows share.
    pub packet_hash: String,
    /// Matching receptions (`COUNT(id)`).
    pub reception_count: i64,
    /// Distinct non-NULL observers among them.
    pub observer_count: i64,
    /// The earliest matching reception (`MIN(received_at)`, UTC).
    pub first_seen: Timestamp,
    /// The widest hop hash among them in bytes (`MAX(path_hash_bytes)`).
    pub path_hash_bytes: Option<i32>,
}

/// The filters of the group list that do not depend on the time window (which rows may be
/// counted at all): also the filter behind the kept per-hour counts of `total.rs`.
pub(super) fn row_filter(backend: DbBackend, filters: &GroupFilters) -> Condition {
    filter_rows(backend, filters, Lead::Filters)
}

/// [`row_filter`] restricted to the packet hashes `hashes` (at most [`CHUNK`]). On SQLite the
/// filter's own columns are written with a unary `+` (same rows), so that the planner reads
/// those hashes' rows off the `(packet_hash, received_at)` index instead of every matching row
/// of the window off the filter's index: a page of channel 17 at `large` grouped its 59
/// hashes out of 34k rows (37 ms, against 2 ms).
pub(super) fn hash_rows_filter(
    backend: DbBackend,
    filters: &GroupFilters,
    hashes: &[String],
) -> Condition {
    filter_rows(backend, filters, Lead::Hashes)
        .add(raw_packets::Column::PacketHash.is_in(hashes.iter().cloned()))
}

/// Which index a row filter is written to be read by on SQLite (PostgreSQL plans by its
/// statistics, so it gets the plain form either way).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// The filter's columns, as for a window's rows.
    Filters,
    /// The packet hash, as for the rows of a few hashes.
    Hashes,
}

fn filter_rows(backend: DbBackend, filters: &GroupFilters, lead: Lead) -> Condition {
    use raw_packets::Column as C;
    let unindexed = lead == Lead::Hashes && backend != DbBackend::Postgres;
    let mut cond = Condition::all().add(C::PacketHash.is_not_null());
    if let Some(search) = &filters.search {
        let pattern = contains_pattern(search);
        let observed_by_match = match &filters.search_observers {
            Some(ids) => is_one_of(backend, "raw_packets.observer_node_id", ids),
            None => sql(
                backend,
                &format!("raw_packets.observer_node_id IN ({SEARCH_OBSERVERS_SQL})"),
                [pattern.clone()],
            ),
        };
        cond = cond.add(
            Condition::any()
                .add(sql(
                    backend,
                    "LOWER(raw_packets.packet_hash) LIKE ? ESCAPE '\\'",
                    [pattern],
                ))
                .add(observed_by_match),
        );
    }
    let equals = |column: C, value: sea_orm::Value| {
        use sea_orm::IdenStatic;
        if unindexed {
            let name = format!("raw_packets.{}", column.as_str());
            unindexed_in(backend, &name, std::iter::once(value))
        } else {
            column.eq(value)
        }
    };
    if let Some(event_type) = &filters.event_type {
        cond = cond.add(equals(C::EventType, event_type.clone().into()));
    }
    if let Some(idx) = filters.channel_idx {
        cond = cond.add(equals(C::ChannelIdx, idx.into()));
    }
    if let Some(bytes) = filters.rows_at_least_bytes {
        cond = cond.add(if unindexed {
            sql(backend, "+raw_packets.path_hash_bytes >= ?", [bytes])
        } else {
            C::PathHashBytes.gte(bytes)
        });
    }
    cond
}

/// The observers whose name contains the search pattern (`?`).
const SEARCH_OBSERVERS_SQL: &str =
    "SELECT obs.id FROM nodes obs WHERE LOWER(obs.name) LIKE ? ESCAPE '\\'";

/// `filters` with the observers its search matches now resolved to their ids (the same rows).
pub(super) async fn resolve_search_observers(
    db: &DatabaseConnection,
    filters: &GroupFilters,
) -> Result<GroupFilters, ApiError> {
    let (Some(search), None) = (&filters.search, &filters.search_observers) else {
        return Ok(filters.clone());
    };
    let mut ids = ids_of(db, SEARCH_OBSERVERS_SQL, [contains_pattern(search)]).await?;
    ids.sort();
    Ok(GroupFilters {
        search_observers: Some(ids),
        ..filters.clone()
    })
}

/// Which rows the list counts: [`row_filter`] within the window `since..=until`.
pub(super) fn row_condition(backend: DbBackend, filters: &GroupFilters) -> Condition {
    row_filter(backend, filters).add(window(backend, filters))
}

/// The window `since..=until` of the list.
pub(super) fn window(backend: DbBackend, filters: &GroupFilters) -> Condition {
    use raw_packets::Column as C;
    let mut cond = Condition::all().add(C::ReceivedAt.gte(datetime_bound(
        backend,
        filters.since,
        Bound::Lower,
    )));
    if let Some(until) = filters.until {
        cond = cond.add(C::ReceivedAt.lte(datetime_bound(backend, until, Bound::Upper)));
    }
    cond
}

/// The grouped query of the list: one row per group of the rows `rows` keeps, with its
/// aggregates, and the `path_hash_bytes` HAVING when asked. Unordered, unpaginated.
fn grouped(
    backend: DbBackend,
    filters: &GroupFilters,
    rows: Condition,
) -> sea_orm::Select<raw_packets::Entity> {
    let grouped = raw_packets::Entity::find()
        .filter(rows)
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
    match filters.path_hash_bytes {
        Some(width) => grouped.having(sql(
            backend,
            "MAX(raw_packets.path_hash_bytes) = ?",
            [width],
        )),
        None => grouped,
    }
}

/// `select` (a [`grouped`] query) in the list's order: the sort key, then the packet hash
/// bytewise on both databases.
fn in_list_order(
    backend: DbBackend,
    mut select: sea_orm::Select<raw_packets::Entity>,
    sort: GroupSort,
    order: Order,
) -> sea_orm::Select<raw_packets::Entity> {
    let key = match sort {
        GroupSort::Time => Expr::cust("MIN(raw_packets.received_at)"),
        GroupSort::EventType => match backend {
            DbBackend::Postgres => Expr::cust("MIN(raw_packets.event_type COLLATE \"C\")"),
            _ => Expr::cust("MIN(raw_packets.event_type)"),
        },
        GroupSort::ReceptionCount => Expr::cust("COUNT(raw_packets.id)"),
    };
    QueryTrait::query(&mut select)
        .order_by_expr_with_nulls(key, order.sea(), sqlite_nulls(order))
        .order_by_expr(text_order(backend, "raw_packets.packet_hash"), order.sea());
    select
}

/// The number of groups (after HAVING), by grouping every row of the window.
pub(super) async fn count_groups_by_sql(
    db: &DatabaseConnection,
    filters: &GroupFilters,
) -> Result<u64, ApiError> {
    let backend = db.get_database_backend();
    Ok(grouped(backend, filters, row_condition(backend, filters))
        .count(db)
        .await?)
}

/// One page of groups and the number of groups, both by grouping every row of the window:
/// what the fast paths (`page.rs`, `total.rs`) must return exactly.
pub async fn list_groups(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    sort: GroupSort,
    order: Order,
    limit: u64,
    offset: u64,
) -> Result<(Vec<GroupAggregate>, u64), ApiError> {
    let total = count_groups_by_sql(db, filters).await?;
    Ok((
        page_by_sql(db, filters, sort, order, limit, offset).await?,
        total,
    ))
}

/// One page of groups, by grouping every row of the window.
pub(super) async fn page_by_sql(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    sort: GroupSort,
    order: Order,
    limit: u64,
    offset: u64,
) -> Result<Vec<GroupAggregate>, ApiError> {
    let backend = db.get_database_backend();
    let all = grouped(backend, filters, row_condition(backend, filters));
    Ok(in_list_order(backend, all, sort, order)
        .limit(limit)
        .offset(offset)
        .into_model::<GroupAggregate>()
        .all(db)
        .await?)
}

/// The groups among `hashes` (at most [`CHUNK`]), with exactly the aggregates and HAVING of
/// the full list, in the list's order.
pub(super) async fn groups_among(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    sort: GroupSort,
    order: Order,
    hashes: &[String],
) -> Result<Vec<GroupAggregate>, ApiError> {
    let backend = db.get_database_backend();
    let rows = hash_rows_filter(backend, filters, hashes).add(window(backend, filters));
    Ok(
        in_list_order(backend, grouped(backend, filters, rows), sort, order)
            .into_model::<GroupAggregate>()
            .all(db)
            .await?,
    )
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
