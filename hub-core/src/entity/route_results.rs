//! `route_results`: The latest evaluation of a route.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub route_id: String,
    pub state: String,
    pub quality: String,
    pub matched_count: i32,
    pub threshold: i32,
    pub effective_clear: i32,
    pub evaluated_at: Timestamp,
    pub quality_avg: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
