//! Raw packet rows as the packet and packet-group endpoints read them, and the redaction rule
//! (docs/contract/api-2.md section 1.1) they share.

use crate::query::filters::unindexed_in;
use crate::query::json::json_text;
use hub_core::entity::raw_packets;
use hub_core::time::Timestamp;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbBackend, FromQueryResult, QuerySelect, Select};
use std::collections::BTreeSet;

/// A `raw_packets` row as the packet endpoints read it: `decoded` as its stored text, so a
/// value the JSON parser rejects becomes `null` for that field instead of a failed query.
#[derive(Debug, Clone, FromQueryResult)]
pub struct PacketRow {
    /// The reception's id ([`raw_packets::Model::id`]).
    pub id: String,
    /// The observer that received it ([`raw_packets::Model::observer_node_id`]).
    pub observer_node_id: Option<String>,
    /// The packet hash shared by all receptions of one packet
    /// ([`raw_packets::Model::packet_hash`]).
    pub packet_hash: Option<String>,
    /// The on-air bytes as hex; redaction nulls them ([`raw_packets::Model::raw_hex`]).
    pub raw_hex: Option<String>,
    /// The wire packet type code ([`raw_packets::Model::packet_type`]).
    pub packet_type: Option<i32>,
    /// The decoder's payload type code ([`raw_packets::Model::payload_type`]).
    pub payload_type: Option<i32>,
    /// How the collector classified the packet ([`raw_packets::Model::event_type`]).
    pub event_type: Option<String>,
    /// The channel of a channel-message packet, which decides redaction
    /// ([`raw_packets::Model::channel_idx`]).
    pub channel_idx: Option<i32>,
    /// The sender's public key prefix; redaction nulls it
    /// ([`raw_packets::Model::source_pubkey_prefix`]).
    pub source_pubkey_prefix: Option<String>,
    /// How the packet travelled ([`raw_packets::Model::route_type`]).
    pub route_type: Option<String>,
    /// Hop count of the packet's path ([`raw_packets::Model::path_len`]).
    pub path_len: Option<i32>,
    /// Signal-to-noise ratio at the observer, in dB ([`raw_packets::Model::snr`]).
    pub snr: Option<f64>,
    /// [`raw_packets::Model::decoded`] as its stored JSON text, parsed when the answer is built.
    pub decoded: Option<String>,
    /// When the observer received it (UTC) ([`raw_packets::Model::received_at`]).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC) ([`raw_packets::Model::created_at`]).
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

/// [`unredacted_rows`] written for a page read in time order on SQLite (the same rows):
/// given `channel_idx IS NULL OR channel_idx IN (...)`, SQLite (no statistics) reads both
/// branches through the `channel_idx` indexes and sorts every unredacted packet for a page
/// (1.5 s at `large`, 1,000,000 packets), where walking `received_at` stops after the page
/// (6 ms); unredacted packets (every packet outside a channel) are most of any network's.
/// Counts keep [`unredacted_rows`], whose indexes serve them well.
pub fn unredacted_rows_in_time_order(backend: DbBackend, visible: &BTreeSet<i32>) -> Condition {
    Condition::any()
        .add(Expr::cust("+raw_packets.channel_idx IS NULL"))
        .add(unindexed_in(
            backend,
            "raw_packets.channel_idx",
            visible.iter().copied(),
        ))
}

/// Whether a row with `channel_idx` is redacted for the caller who may read `visible`.
pub fn is_redacted(channel_idx: Option<i32>, visible: &BTreeSet<i32>) -> bool {
    channel_idx.is_some_and(|idx| !visible.contains(&idx))
}
