//! `user_profile_nodes`: A node adopted by a profile (a node has at most one adopter).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A node adopted by a profile (a node has at most one adopter).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_profile_nodes")]
pub struct Model {
    /// `user_profiles.id` of the adopter; the row is deleted with the profile.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_profile_id: String,
    /// `nodes.id` of the adopted node (unique); the row is deleted with the node.
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: String,
    /// When the node was adopted (UTC).
    pub adopted_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
