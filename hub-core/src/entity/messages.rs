//! `messages`: A contact or channel message.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One contact or channel message, deduplicated across observers by `event_hash`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the observer (receiving interface) that heard it; NULL once that node is
    /// deleted.
    pub observer_node_id: Option<String>,
    /// Whether it is a `contact` (direct) or `channel` message.
    pub message_type: String,
    /// The sender's public key prefix, 12 hex characters (contact messages).
    pub pubkey_prefix: Option<String>,
    /// The channel hash byte as an integer 0..255 (channel messages); decides who may see it.
    pub channel_idx: Option<i32>,
    /// The message text as received.
    pub text: String,
    /// How many hops the message took.
    pub path_len: Option<i32>,
    /// MeshCore's text type code (0 plain, 1 CLI data, 2 signed plain).
    pub txt_type: Option<i32>,
    /// The message signature as hex, when the sender signed it.
    pub signature: Option<String>,
    /// Signal-to-noise ratio at the observer, in dB.
    pub snr: Option<f64>,
    /// The sender's own clock when it sent the message (UTC).
    pub sender_timestamp: Option<Timestamp>,
    /// When the observer received it (UTC, the collector's clock).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// 32-character hash MeshCore Hub computes to recognise the same event heard by several
    /// observers; the key into `event_observers`.
    pub event_hash: Option<String>,
    /// LetsMesh's packet hash (up to 32 characters): links the row to the receptions of its packet
    /// in `raw_packets`.
    pub packet_hash: Option<String>,
    /// Spam scoring: the first origin-side hop hashes joined with commas (e.g. `16,69,23`); NULL
    /// for short paths.
    pub path_prefix: Option<String>,
    /// Spam scoring: the sender name lowercased with trailing digits stripped (`bob17` -> `bob`).
    pub sender_normalized: Option<String>,
    /// Spam scoring: likelihood of spam from 0.0 to 1.0; NULL when scoring is off.
    pub spam_score: Option<f64>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
