//! `event_observers`: One observer's reception of an advert or message event.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One observer's reception of an event, unique per (event, observer).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_observers")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The kind of event: `message`, `advertisement`, `trace` or `telemetry`.
    pub event_type: String,
    /// The event's 32-character hash (`event_hash` of its row in the event's table).
    pub event_hash: String,
    /// `nodes.id` of the observer; the row is deleted with that node.
    pub observer_node_id: String,
    /// Signal-to-noise ratio at this observer, in dB.
    pub snr: Option<f64>,
    /// How many hops the event took to reach this observer.
    pub path_len: Option<i32>,
    /// When this observer received the event (UTC).
    pub observed_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
