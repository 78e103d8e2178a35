//! `telemetry`: Sensor telemetry a node reported.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "telemetry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub observer_node_id: Option<String>,
    pub node_id: Option<String>,
    pub node_public_key: String,
    /// Raw Cayenne LPP bytes; never exposed.
    pub lpp_data: Option<Vec<u8>>,
    pub parsed_data: Option<Json>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub event_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
