//! `packet_path_hops`: One hop of a received packet's path, in position order (written at ingest).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One hop of a received packet's path, in position order (written at ingest).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "packet_path_hops")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// `raw_packets.id` of the reception; the hop is deleted with it.
    pub raw_packet_id: String,
    /// 0-based and contiguous within a packet.
    pub position: i32,
    /// Uppercase hex of 2, 4 or 6 characters.
    pub node_hash: String,
    /// The raw packet's `packet_hash`, copied so route queries need no join.
    pub packet_hash: Option<String>,
    /// The raw packet's `event_hash`, copied so route queries need no join.
    pub event_hash: Option<String>,
    /// The raw packet's `received_at` (UTC), copied so route queries need no join.
    pub received_at: Timestamp,
    /// The raw packet's observer (`nodes.id`); NULL once that node is deleted.
    pub observer_node_id: Option<String>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
