//! `advertisements`: An advertisement heard by an observer.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "advertisements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub observer_node_id: Option<String>,
    pub node_id: Option<String>,
    pub public_key: String,
    pub name: Option<String>,
    pub adv_type: Option<String>,
    pub flags: Option<i32>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub event_hash: Option<String>,
    pub route_type: Option<String>,
    pub advert_timestamp: Option<Timestamp>,
    pub packet_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
