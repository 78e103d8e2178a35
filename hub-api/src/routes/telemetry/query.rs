//! SQL of `/api/v1/telemetry`.

use crate::error::ApiError;
use crate::params::Order;
use crate::query::filters::hex_equals;
use crate::query::heard::{HeardFilters, HeardRow, HeardTable};
use crate::query::json::json_text;
use crate::query::list::{PageRequest, SortKey, fetch_page_as};
use hub_core::entity::telemetry;
use hub_core::time::Timestamp;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Select,
};

/// A `telemetry` row as the endpoints read it: `parsed_data` as its stored text.
#[derive(Debug, Clone, FromQueryResult)]
pub(super) struct TelemetryRow {
    pub observer_node_id: Option<String>,
    pub node_public_key: String,
    pub parsed_data: Option<String>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub event_hash: Option<String>,
}

impl HeardRow for TelemetryRow {
    fn observer_node_id(&self) -> &Option<String> {
        &self.observer_node_id
    }

    fn event_hash(&self) -> &Option<String> {
        &self.event_hash
    }
}

/// Filters of the telemetry list, already parsed.
#[derive(Debug, Default)]
pub(super) struct TelemetryFilters {
    pub node_public_key: Option<String>,
    /// The observers and the window.
    pub heard: HeardFilters,
}

fn columns(select: Select<telemetry::Entity>) -> Select<telemetry::Entity> {
    use telemetry::Column as C;
    select
        .select_only()
        .columns([C::ObserverNodeId, C::NodePublicKey])
        .column_as(json_text("telemetry", "parsed_data"), "parsed_data")
        .columns([C::ReceivedAt, C::CreatedAt, C::EventHash])
}

/// One page of telemetry, newest first (ties by id), and the number of matching rows.
pub(super) async fn list_telemetry(
    db: &DatabaseConnection,
    filters: &TelemetryFilters,
    page: PageRequest,
) -> Result<(Vec<TelemetryRow>, u64), ApiError> {
    use telemetry::Column as C;
    let mut cond = Condition::all();
    if let Some(key) = &filters.node_public_key {
        cond = cond.add(hex_equals(C::NodePublicKey, key));
    }
    let cond = filters
        .heard
        .restrict(db, HeardTable::Telemetry, cond, C::ReceivedAt)
        .await?;
    let query = telemetry::Entity::find().filter(cond);
    // Newest first, as upstream; the id only breaks ties (stable pages).
    let newest_first = vec![SortKey::by(C::ReceivedAt)];
    let rows = fetch_page_as(db, query, columns, newest_first, C::Id, Order::Desc, page).await?;
    Ok(rows)
}

/// The telemetry record with this id, if any.
pub(super) async fn telemetry_by_id(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<TelemetryRow>, ApiError> {
    Ok(
        columns(telemetry::Entity::find().filter(telemetry::Column::Id.eq(id)))
            .into_model::<TelemetryRow>()
            .one(db)
            .await?,
    )
}
