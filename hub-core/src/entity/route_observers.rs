//! `route_observers`: An observer a route is scoped to (none: every observer).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// An observer a route is scoped to (a route with none counts every observer).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_observers")]
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
    /// `nodes.id` of the observer; the row is deleted with the node.
    pub node_id: String,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
