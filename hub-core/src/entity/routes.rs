//! `routes`: A monitored route between two sites.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "routes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub from_label: String,
    pub to_label: String,
    pub description: Option<String>,
    pub visibility: String,
    pub match_width: i32,
    pub window_hours: i32,
    pub packet_count_threshold: i32,
    pub clear_threshold: Option<i32>,
    pub max_hop_span: Option<i32>,
    pub enabled: bool,
    pub reversible: bool,
    pub max_path_length: Option<i32>,
    pub created_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
