//! SQL of `/api/v1/trace-paths`.

use crate::error::ApiError;
use crate::params::{Bound, datetime_bound};
use crate::query::filters::observed_by_condition;
use crate::routes::packets::query::{json_text, text_order};
use hub_core::entity::trace_paths;
use hub_core::time::Timestamp;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Select,
};

/// A `trace_paths` row as the endpoints read it: the JSON columns as their stored text.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct TracePathRow {
    pub observer_node_id: Option<String>,
    pub initiator_tag: i64,
    pub path_len: Option<i32>,
    pub flags: Option<i32>,
    pub auth: Option<i32>,
    pub path_hashes: Option<String>,
    pub snr_values: Option<String>,
    pub hop_count: Option<i32>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub event_hash: Option<String>,
}

/// Filters of the trace path list, already parsed.
#[derive(Debug, Default)]
pub(super) struct TracePathFilters {
    /// Lowercased observer public keys (any of them).
    pub observed_by: Vec<String>,
    pub since: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
}

fn columns(select: Select<trace_paths::Entity>) -> Select<trace_paths::Entity> {
    use trace_paths::Column as C;
    select
        .select_only()
        .columns([
            C::ObserverNodeId,
            C::InitiatorTag,
            C::PathLen,
            C::Flags,
            C::Auth,
        ])
        .column_as(json_text("trace_paths", "path_hashes"), "path_hashes")
        .column_as(json_text("trace_paths", "snr_values"), "snr_values")
        .columns([C::HopCount, C::ReceivedAt, C::CreatedAt, C::EventHash])
}

/// One page of trace paths, newest first (ties by id), and the number of matching rows.
pub(super) async fn list_trace_paths(
    db: &DatabaseConnection,
    filters: &TracePathFilters,
    limit: u64,
    offset: u64,
) -> Result<(Vec<TracePathRow>, u64), ApiError> {
    use trace_paths::Column as C;
    let backend = db.get_database_backend();
    let mut cond = Condition::all();
    if let Some(observed) =
        observed_by_condition(backend, "trace_paths", "trace", &filters.observed_by)
    {
        cond = cond.add(observed);
    }
    if let Some(since) = filters.since {
        cond = cond.add(C::ReceivedAt.gte(datetime_bound(backend, since, Bound::Lower)));
    }
    if let Some(until) = filters.until {
        cond = cond.add(C::ReceivedAt.lte(datetime_bound(backend, until, Bound::Upper)));
    }
    let query = trace_paths::Entity::find().filter(cond);
    let total = query.clone().count(db).await?;
    let mut select = columns(query).limit(limit).offset(offset);
    QueryTrait::query(&mut select)
        .order_by(C::ReceivedAt, sea_orm::Order::Desc)
        .order_by_expr(text_order(backend, "trace_paths.id"), sea_orm::Order::Desc);
    let rows = select.into_model::<TracePathRow>().all(db).await?;
    Ok((rows, total))
}

/// The trace path with this id, if any.
pub(super) async fn trace_path_by_id(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<TracePathRow>, ApiError> {
    Ok(
        columns(trace_paths::Entity::find().filter(trace_paths::Column::Id.eq(id)))
            .into_model::<TracePathRow>()
            .one(db)
            .await?,
    )
}
