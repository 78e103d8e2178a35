//! SQL of `/api/v1/telemetry`.

use crate::error::ApiError;
use crate::params::{Bound, datetime_bound};
use crate::query::filters::observed_by_condition;
use crate::routes::packets::query::{json_text, text_order};
use hub_core::entity::telemetry;
use hub_core::time::Timestamp;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QuerySelect, QueryTrait, Select,
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

/// Filters of the telemetry list, already parsed.
#[derive(Debug, Default)]
pub(super) struct TelemetryFilters {
    pub node_public_key: Option<String>,
    /// Lowercased observer public keys (any of them).
    pub observed_by: Vec<String>,
    pub since: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
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
    limit: u64,
    offset: u64,
) -> Result<(Vec<TelemetryRow>, u64), ApiError> {
    use telemetry::Column as C;
    let backend = db.get_database_backend();
    let mut cond = Condition::all();
    if let Some(key) = &filters.node_public_key {
        cond = cond.add(C::NodePublicKey.eq(key.clone()));
    }
    if let Some(observed) =
        observed_by_condition(backend, "telemetry", "telemetry", &filters.observed_by)
    {
        cond = cond.add(observed);
    }
    if let Some(since) = filters.since {
        cond = cond.add(C::ReceivedAt.gte(datetime_bound(backend, since, Bound::Lower)));
    }
    if let Some(until) = filters.until {
        cond = cond.add(C::ReceivedAt.lte(datetime_bound(backend, until, Bound::Upper)));
    }
    let query = telemetry::Entity::find().filter(cond);
    let total = query.clone().count(db).await?;
    let mut select = columns(query).limit(limit).offset(offset);
    QueryTrait::query(&mut select)
        .order_by(C::ReceivedAt, sea_orm::Order::Desc)
        .order_by_expr(text_order(backend, "telemetry.id"), sea_orm::Order::Desc);
    let rows = select.into_model::<TelemetryRow>().all(db).await?;
    Ok((rows, total))
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
