//! SQL of `/api/v1/trace-paths`.

use crate::error::ApiError;
use crate::params::Order;
use crate::query::heard::{HeardFilters, HeardRow, HeardTable};
use crate::query::json::json_text;
use crate::query::list::{PageRequest, SortKey, fetch_page_as};
use hub_core::entity::trace_paths;
use hub_core::time::Timestamp;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Select,
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

impl HeardRow for TracePathRow {
    fn observer_node_id(&self) -> &Option<String> {
        &self.observer_node_id
    }

    fn event_hash(&self) -> &Option<String> {
        &self.event_hash
    }
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
    filters: &HeardFilters,
    page: PageRequest,
) -> Result<(Vec<TracePathRow>, u64), ApiError> {
    use trace_paths::Column as C;
    let cond = filters
        .restrict(db, HeardTable::TracePaths, Condition::all(), C::ReceivedAt)
        .await?;
    let query = trace_paths::Entity::find().filter(cond);
    // Newest first, as upstream; the id only breaks ties (stable pages).
    let newest_first = vec![SortKey::by(C::ReceivedAt)];
    let rows = fetch_page_as(db, query, columns, newest_first, C::Id, Order::Desc, page).await?;
    Ok(rows)
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
