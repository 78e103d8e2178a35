//! `raw_packets`: A raw radio packet as an observer captured it.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One observer's reception of an on-air packet (no deduplication: one row per reception).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "raw_packets")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the observer (receiving interface) that heard it; NULL once that node is
    /// deleted.
    pub observer_node_id: Option<String>,
    /// LetsMesh's packet hash (up to 32 characters): links the row to the receptions of its packet
    /// in `raw_packets`.
    pub packet_hash: Option<String>,
    /// The on-air bytes as hex.
    pub raw_hex: Option<String>,
    /// The wire packet type code.
    pub packet_type: Option<i32>,
    /// The decoder's payload type code.
    pub payload_type: Option<i32>,
    /// How the collector classified the packet (e.g. `advertisement`, `channel_msg_recv`).
    pub event_type: Option<String>,
    /// The channel hash byte as an integer 0..255 for channel-message packets, else NULL; drives
    /// redaction.
    pub channel_idx: Option<i32>,
    /// The sender's public key prefix (up to 12 hex characters) when the decoder finds one.
    pub source_pubkey_prefix: Option<String>,
    /// How the packet travelled: `flood`, `transport_flood`, `direct` or `transport_direct`.
    pub route_type: Option<String>,
    /// Hop count of the packet's path.
    pub path_len: Option<i32>,
    /// Signal-to-noise ratio at the observer, in dB.
    pub snr: Option<f64>,
    /// The decoder's summary of the packet (a JSON object), so a detail view needs no re-decode.
    pub decoded: Option<Json>,
    /// When the observer received it (UTC, the collector's clock).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// Bytes per hop hash in the packet's path: 1, 2 or 3.
    pub path_hash_bytes: Option<i32>,
    /// The `event_hash` of the structured row (message, advertisement, ...) this packet produced,
    /// when known.
    pub event_hash: Option<String>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
