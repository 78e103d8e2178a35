//! `user_profile_nodes`: A node adopted by a profile (a node has at most one adopter).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_profile_nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_profile_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: String,
    pub adopted_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
