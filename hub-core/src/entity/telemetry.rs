//! `telemetry`: Sensor telemetry a node reported.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// Sensor readings a node reported, deduplicated across observers by `event_hash`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "telemetry")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the observer (receiving interface) that heard it; NULL once that node is
    /// deleted.
    pub observer_node_id: Option<String>,
    /// `nodes.id` of the reporting node; NULL when unknown or deleted.
    pub node_id: Option<String>,
    /// The reporting node's public key: 64 lowercase hex characters.
    pub node_public_key: String,
    /// Raw Cayenne LPP bytes; never exposed.
    pub lpp_data: Option<Vec<u8>>,
    /// The decoded sensor readings (a JSON object).
    pub parsed_data: Option<Json>,
    /// When the observer received it (UTC, the collector's clock).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// 32-character hash MeshCore Hub computes to recognise the same event heard by several
    /// observers; the key into `event_observers`.
    pub event_hash: Option<String>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
