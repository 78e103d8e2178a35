//! `messages`: A contact or channel message.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub observer_node_id: Option<String>,
    pub message_type: String,
    pub pubkey_prefix: Option<String>,
    pub channel_idx: Option<i32>,
    pub text: String,
    pub path_len: Option<i32>,
    pub txt_type: Option<i32>,
    pub signature: Option<String>,
    pub snr: Option<f64>,
    pub sender_timestamp: Option<Timestamp>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub event_hash: Option<String>,
    pub packet_hash: Option<String>,
    pub path_prefix: Option<String>,
    pub sender_normalized: Option<String>,
    pub spam_score: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
