//! `events_log`: Every event the collector received, as it came (no endpoint reads it).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One event as the collector received it (no endpoint reads this table).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events_log")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the observer (receiving interface) that heard it; NULL once that node is
    /// deleted.
    pub observer_node_id: Option<String>,
    /// The collector's name for the event.
    pub event_type: String,
    /// The event's payload as the collector received it (JSON).
    pub payload: Option<Json>,
    /// When the observer received it (UTC, the collector's clock).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
