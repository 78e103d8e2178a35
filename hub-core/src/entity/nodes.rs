//! `nodes`: Node in the mesh, keyed by its public key.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub public_key: String,
    pub name: Option<String>,
    pub adv_type: Option<String>,
    pub flags: Option<i32>,
    pub first_seen: Timestamp,
    pub last_seen: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub is_observer: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
