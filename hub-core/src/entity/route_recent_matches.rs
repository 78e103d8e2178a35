//! `route_recent_matches`: One of a route's latest matching packets (at most 3 per route).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_recent_matches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub route_id: String,
    pub raw_packet_id: String,
    pub first_position: i32,
    pub last_position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
