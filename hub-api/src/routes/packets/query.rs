//! SQL of `/api/v1/packets`.

use crate::error::ApiError;
use crate::params::{Order, lower_like, sql};
use crate::query::day_counts::count_rows;
use crate::query::filters::{
    ObserverPlan, hex_equals, ids_of, is_one_of, observer_ids, unindexed_in,
};
use crate::query::list::{
    PageRequest, SortKey, Total, fetch_counted_page, rows_as_read, sqlite_nulls, text_order,
};
use crate::query::past_days::PastDays;
use crate::query::raw_packets::{
    PacketRow, packet_columns, redacted_rows, unredacted_rows, unredacted_rows_in_time_order,
};
use crate::query::time_window::TimeWindow;
use hub_core::entity::raw_packets;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, QueryFilter};
use std::collections::BTreeSet;

/// Filters of the packet list, already parsed and validated.
#[derive(Debug, Default)]
pub(super) struct PacketFilters {
    /// Lowercased search text; matches hash, raw hex (visible rows only), observer name or key.
    pub search: Option<String>,
    pub event_types: Vec<String>,
    pub packet_types: Vec<i64>,
    pub packet_hash: Option<String>,
    pub channel_idx: Option<i64>,
    pub route_types: Vec<String>,
    pub source_prefix: Option<String>,
    /// Observer public keys; an empty string is a key like any other (it matches nothing).
    pub observed_by: Vec<String>,
    pub decryptable: Option<bool>,
    pub min_snr: Option<f64>,
    pub max_snr: Option<f64>,
    pub min_path_len: Option<i64>,
    pub max_path_len: Option<i64>,
    pub redacted: Option<bool>,
    /// The received_at window (`since` defaults to 7 days back when searching).
    pub window: TimeWindow,
}

/// Sort column of the packet list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PacketSort {
    Time,
    EventType,
    PacketType,
    Snr,
    PathLen,
}

impl PacketSort {
    /// The known names; anything else sorts by time.
    pub(crate) fn parse(value: Option<&str>) -> PacketSort {
        match value.map(str::trim) {
            Some("event_type") => PacketSort::EventType,
            Some("packet_type") => PacketSort::PacketType,
            Some("snr") => PacketSort::Snr,
            Some("path_len") => PacketSort::PathLen,
            _ => PacketSort::Time,
        }
    }
}

/// [`lower_like`] pattern for `search`: `%` and `_` stay wildcards, as MeshCore Hub's
/// packet search leaves them; only the escape character itself is escaped, so that the
/// pattern means the same on PostgreSQL (whose LIKE escapes with `\`) as on SQLite.
fn wildcard_contains(search: &str) -> String {
    format!("%{}%", search.replace('\\', "\\\\"))
}

/// `observed_by`: the row's observer is one of `ids` ([`observer_ids`]), read as `plan` says.
fn observed_by(backend: DbBackend, ids: &[String], plan: ObserverPlan) -> Expr {
    is_one_of(
        backend,
        &plan.column(backend, "raw_packets.observer_node_id"),
        ids,
    )
}

/// The ids of the nodes whose name or public key contains `search` (a packet search).
pub(super) async fn observers_matching(
    db: &DatabaseConnection,
    search: Option<&str>,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let Some(search) = search else {
        return Ok(Vec::new());
    };
    let backend = db.get_database_backend();
    let pattern = wildcard_contains(search);
    let matching = format!(
        "SELECT obs.id FROM nodes obs WHERE {} OR {}",
        lower_like(backend, "obs.name"),
        lower_like(backend, "obs.public_key")
    );
    ids_of(db, &matching, [pattern.clone(), pattern]).await
}

/// SQL of "the stored `decoded` text says it was decrypted": it names a `decrypted` key
/// whose value is not `null` (a text match, as MeshCore Hub does it, on the lowercased text).
fn decrypted_sql(backend: DbBackend) -> &'static str {
    match backend {
        // The same rows: SQLite's LIKE folds ASCII case as its LOWER does, and both patterns
        // are lowercase ASCII. Without LOWER and CAST per row, counting every packet's text
        // takes two thirds of the time (509 -> 345 ms at `large`).
        DbBackend::Sqlite => "(raw_packets.decoded LIKE ? AND NOT raw_packets.decoded LIKE ?)",
        _ => {
            "(LOWER(CAST(raw_packets.decoded AS TEXT)) LIKE ? \
             AND NOT LOWER(CAST(raw_packets.decoded AS TEXT)) LIKE ?)"
        }
    }
}

/// The WHERE condition of `filters` for a caller who may read `visible`, but the time window.
///
/// `observer_ids` are `observed_by`'s observers and `search_observers` the observers whose
/// name or key contains the search text now (see [`observer_ids`], [`observers_matching`]):
/// the row then needs no look-up of its observer, and a past day's matches stay as they are.
/// `in_time_order`: the query is a page read in time order, either way (see
/// [`unredacted_rows_in_time_order`]).
pub(super) fn packet_condition(
    backend: DbBackend,
    filters: &PacketFilters,
    visible: &BTreeSet<i32>,
    observer_ids: Option<&[String]>,
    observers: ObserverPlan,
    search_observers: &[String],
    in_time_order: bool,
) -> Condition {
    use raw_packets::Column as C;
    // A page read in time order on SQLite: conditions that would lead its planner away from
    // walking received_at are written to keep it there (see [`unindexed_in`]).
    let walk_time = in_time_order && backend == DbBackend::Sqlite;
    let mut cond = Condition::all();
    if let Some(search) = &filters.search {
        let pattern = wildcard_contains(search);
        let like = |column: &str| sql(backend, &lower_like(backend, column), [pattern.clone()]);
        cond = cond.add(
            Condition::any()
                .add(like("raw_packets.packet_hash"))
                // Redacted rows' raw hex is not the caller's to search.
                .add(
                    Condition::all()
                        .add(unredacted_rows(visible))
                        .add(like("raw_packets.raw_hex")),
                )
                .add(is_one_of(
                    backend,
                    "raw_packets.observer_node_id",
                    search_observers,
                )),
        );
    }
    if !filters.event_types.is_empty() {
        cond = cond.add(C::EventType.is_in(filters.event_types.iter().cloned()));
    }
    if !filters.packet_types.is_empty() {
        cond = cond.add(C::PacketType.is_in(filters.packet_types.iter().copied()));
    }
    if let Some(hash) = &filters.packet_hash {
        cond = cond.add(hex_equals(C::PacketHash, hash));
    }
    if let Some(idx) = filters.channel_idx {
        cond = cond.add(C::ChannelIdx.eq(idx));
    }
    if !filters.route_types.is_empty() {
        let types = filters.route_types.iter().cloned();
        cond = cond.add(if walk_time {
            // The same rows. For a page of one route type, SQLite's plan for the bare column
            // took 1.0 s at `large` (1,000,000 packets, no index on route_type), against
            // 2 ms walking received_at and stopping after the page; every route type is a
            // large share of a network's packets.
            unindexed_in(backend, "raw_packets.route_type", types)
        } else {
            C::RouteType.is_in(types)
        });
    }
    if let Some(prefix) = &filters.source_prefix {
        cond = cond.add(hex_equals(C::SourcePubkeyPrefix, prefix));
    }
    if let Some(ids) = observer_ids {
        cond = cond.add(observed_by(backend, ids, observers));
    }
    if let Some(decryptable) = filters.decryptable {
        let decrypted = sql(
            backend,
            decrypted_sql(backend),
            ["%\"decrypted\":%", "%\"decrypted\": null%"],
        );
        // NULL `decoded` matches neither value (three-valued logic, as upstream).
        cond = cond.add(C::Decoded.is_not_null()).add(if decryptable {
            Condition::all().add(decrypted)
        } else {
            Condition::all().add(decrypted).not()
        });
    }
    if let Some(v) = filters.min_snr {
        cond = cond.add(C::Snr.gte(v));
    }
    if let Some(v) = filters.max_snr {
        cond = cond.add(C::Snr.lte(v));
    }
    if let Some(v) = filters.min_path_len {
        cond = cond.add(C::PathLen.gte(v));
    }
    if let Some(v) = filters.max_path_len {
        cond = cond.add(C::PathLen.lte(v));
    }
    match filters.redacted {
        Some(true) => cond = cond.add(redacted_rows(visible)),
        Some(false) if walk_time => {
            cond = cond.add(unredacted_rows_in_time_order(backend, visible))
        }
        Some(false) => cond = cond.add(unredacted_rows(visible)),
        None => {}
    }
    cond
}

/// One page of packets matching `filters`, and the number of matching rows.
pub(super) async fn list_packets(
    db: &DatabaseConnection,
    kept: &PastDays<i64>,
    filters: &PacketFilters,
    visible: &BTreeSet<i32>,
    sort: PacketSort,
    order: Order,
    page: PageRequest,
) -> Result<(Vec<PacketRow>, u64), ApiError> {
    let backend = db.get_database_backend();
    let observer_ids = observer_ids(db, &filters.observed_by).await?;
    let search_observers = observers_matching(db, filters.search.as_deref()).await?;
    let select = |observers, in_time_order| {
        let ids = observer_ids.as_deref();
        let condition = packet_condition(
            backend,
            filters,
            visible,
            ids,
            observers,
            &search_observers,
            in_time_order,
        );
        raw_packets::Entity::find().filter(condition)
    };
    let received_at = raw_packets::Column::ReceivedAt;
    // Every filter reads the row alone (the caller's visible channels and the observers the
    // search matches are part of the kept key).
    let (edges, long) = (
        select(ObserverPlan::InTimeOrder, false),
        select(ObserverPlan::ByEvent, false),
    );
    let total = Total::in_window(
        backend,
        edges,
        long,
        received_at,
        filters.window,
        Some(kept),
    );
    let page_plan = match &observer_ids {
        Some(ids) if sort == PacketSort::Time => {
            let heard = observed_by(backend, ids, ObserverPlan::ByEvent);
            let heard = count_rows(db, raw_packets::Entity::find().filter(heard));
            ObserverPlan::choose(db, "raw_packets", page.rows(), heard).await?
        }
        _ => ObserverPlan::ByEvent,
    };
    let query = select(page_plan, sort == PacketSort::Time)
        .filter(filters.window.condition(backend, received_at));
    let column = match sort {
        PacketSort::Time => "raw_packets.received_at",
        PacketSort::EventType => "raw_packets.event_type",
        PacketSort::PacketType => "raw_packets.packet_type",
        PacketSort::Snr => "raw_packets.snr",
        PacketSort::PathLen => "raw_packets.path_len",
    };
    let key = if sort == PacketSort::EventType {
        text_order(backend, column)
    } else {
        Expr::cust(column.to_string())
    };
    // received_at is NOT NULL, so NULL placement changes nothing there, but on PostgreSQL an
    // explicit `DESC NULLS LAST` keeps the received_at index from serving the sort (a sort of
    // every row: 0.6 s at `large` instead of 13 ms).
    let keys = if sort == PacketSort::Time {
        vec![SortKey::by(key)]
    } else {
        vec![SortKey::with_nulls(key, sqlite_nulls(order))]
    };
    Ok(fetch_counted_page(
        db,
        total,
        packet_columns(query),
        keys,
        raw_packets::Column::Id,
        order,
        page,
        rows_as_read,
    )
    .await?)
}

/// The packet with this id, if any.
pub(super) async fn packet_by_id(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<PacketRow>, ApiError> {
    Ok(
        packet_columns(raw_packets::Entity::find().filter(raw_packets::Column::Id.eq(id)))
            .into_model::<PacketRow>()
            .one(db)
            .await?,
    )
}
