//! `packet_path_hops`: One hop of a received packet's path, in position order (written at ingest).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "packet_path_hops")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub raw_packet_id: String,
    /// 0-based and contiguous within a packet.
    pub position: i32,
    /// Uppercase hex of 2, 4 or 6 characters.
    pub node_hash: String,
    pub packet_hash: Option<String>,
    pub event_hash: Option<String>,
    pub received_at: Timestamp,
    pub observer_node_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
