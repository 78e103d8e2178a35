//! `route_nodes`: A path node of a route, in position order.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A node of a route's path, in position order.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_nodes")]
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
    /// `nodes.id` of the path node; the row is deleted with the node.
    pub node_id: String,
    /// The node's 0-based place in the route's path.
    pub position: i32,
    /// The first 2 x `match_width` hex characters of the node's public key, uppercased: what a hop
    /// hash must equal.
    pub expected_hash: Option<String>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
