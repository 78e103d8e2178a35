//! `route_recent_matches`: One of a route's latest matching packets (at most 3 per route).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One of a route's latest matching packets (at most 3 per route, replaced on each evaluation).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_recent_matches")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// `routes.id` of the route; the row is deleted with the route.
    pub route_id: String,
    /// `raw_packets.id` of the matching reception; the match is deleted with it.
    pub raw_packet_id: String,
    /// Position in the packet's path of the first matched hop.
    pub first_position: i32,
    /// Position in the packet's path of the last matched hop (inclusive).
    pub last_position: i32,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
