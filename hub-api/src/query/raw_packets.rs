//! Raw packet rows as the packet and packet-group endpoints read them, and the redaction rule
//! (docs/contract/api-2.md section 1.1) they share.

use crate::query::json::json_text;
use hub_core::entity::raw_packets;
use hub_core::time::Timestamp;
use sea_orm::{ColumnTrait, Condition, FromQueryResult, QuerySelect, Select};
use std::collections::BTreeSet;

/// A `raw_packets` row as the packet endpoints read it: `decoded` as its stored text, so a
/// value the JSON parser rejects becomes `null` for that field instead of a failed query.
#[derive(Debug, Clone, FromQueryResult)]
pub struct PacketRow {
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
    pub decoded: Option<String>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
}

/// The `raw_packets` columns of [`PacketRow`], selected from `select`.
pub fn packet_columns(select: Select<raw_packets::Entity>) -> Select<raw_packets::Entity> {
    use raw_packets::Column as C;
    select
        .select_only()
        .columns([
            C::Id,
            C::ObserverNodeId,
            C::PacketHash,
            C::RawHex,
            C::PacketType,
            C::PayloadType,
            C::EventType,
            C::ChannelIdx,
            C::SourcePubkeyPrefix,
            C::RouteType,
            C::PathLen,
            C::Snr,
        ])
        .column_as(json_text("raw_packets", "decoded"), "decoded")
        .columns([C::ReceivedAt, C::CreatedAt])
}

/// Rows a caller who may read the channel indices `visible` sees redacted: a channel index
/// that is set and not visible. `visible` always holds Public (17), so `NOT IN` is never empty.
pub fn redacted_rows(visible: &BTreeSet<i32>) -> Condition {
    Condition::all()
        .add(raw_packets::Column::ChannelIdx.is_not_null())
        .add(raw_packets::Column::ChannelIdx.is_not_in(visible.iter().copied()))
}

/// The complement of [`redacted_rows`]; a NULL channel index is never redacted.
pub fn unredacted_rows(visible: &BTreeSet<i32>) -> Condition {
    Condition::any()
        .add(raw_packets::Column::ChannelIdx.is_null())
        .add(raw_packets::Column::ChannelIdx.is_in(visible.iter().copied()))
}

/// Whether a row with `channel_idx` is redacted for the caller who may read `visible`.
pub fn is_redacted(channel_idx: Option<i32>, visible: &BTreeSet<i32>) -> bool {
    channel_idx.is_some_and(|idx| !visible.contains(&idx))
}
