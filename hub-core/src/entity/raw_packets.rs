//! `raw_packets`: A raw radio packet as an observer captured it.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "raw_packets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub observer_node_id: Option<String>,
    pub packet_hash: Option<String>,
    pub raw_hex: Option<String>,
    pub packet_type: Option<i32>,
    pub payload_type: Option<i32>,
    pub event_type: Option<String>,
    pub channel_idx: Option<i32>,
    pub source_pubkey_prefix: Option<String>,
    pub route_type: Option<String>,
    pub path_len: Option<i32>,
    pub snr: Option<f64>,
    pub decoded: Option<Json>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub path_hash_bytes: Option<i32>,
    pub event_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
