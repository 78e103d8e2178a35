//! `trace_paths`: The result of a trace: the path hashes and per-hop SNR.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "trace_paths")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub observer_node_id: Option<String>,
    pub initiator_tag: i64,
    pub path_len: Option<i32>,
    pub flags: Option<i32>,
    pub auth: Option<i32>,
    pub path_hashes: Option<Json>,
    pub snr_values: Option<Json>,
    pub hop_count: Option<i32>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub event_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
