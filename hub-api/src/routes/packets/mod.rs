//! `/api/v1/packets`: raw packets as observers captured them (docs/contract/api-2.md section 1).
//!
//! Packets are never hidden by channel visibility; a row on a channel the caller may not
//! read is listed *redacted*: its `raw_hex`, `source_pubkey_prefix` and `decoded` are null
//! and `redacted` is true. Searching never matches a redacted row's raw hex.

pub(crate) mod query;

use crate::caller::{Caller, role_key};
use crate::documented::{BoolParam, DateTimeParam, IntegerListParam};
use crate::error::ApiError;
use crate::page::Page;
use crate::params::{Order, distinct_list, lowercase, lowercase_list, parse_bool};
use crate::query::json::json_object;
use crate::query::list::PageRequest;
use crate::query::lookups::{observer_names, visible_channels};
use crate::query::raw_packets::{PacketRow, is_redacted};
use crate::query::time_window::TimeWindow;
use crate::responses::{ItemErrors, ListErrors, Reply};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::time::rfc3339;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use query::{PacketFilters, PacketSort};
use sea_orm::DatabaseConnection;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Days a search looks back when no `since` is given.
pub const SEARCH_WINDOW_DAYS: i64 = 7;

/// A raw packet with its primary observer's names.
#[derive(Debug, Clone, Object)]
pub struct RawPacketRead {
    /// The packet row's id (UUID).
    pub id: String,
    /// Public key of the observer that captured it.
    #[oai(nullable)]
    pub observed_by: Option<String>,
    /// That observer's advertised name.
    #[oai(nullable)]
    pub observer_name: Option<String>,
    /// That observer's `name` tag.
    #[oai(nullable)]
    pub observer_tag_name: Option<String>,
    /// Hash identifying the packet across observers.
    #[oai(nullable)]
    pub packet_hash: Option<String>,
    /// The packet bytes as hex; null when redacted.
    #[oai(nullable)]
    pub raw_hex: Option<String>,
    /// MeshCore packet type.
    #[oai(nullable)]
    pub packet_type: Option<i32>,
    /// MeshCore payload type.
    #[oai(nullable)]
    pub payload_type: Option<i32>,
    /// The event the collector recorded, e.g. `advertisement`, `channel_msg_recv`.
    #[oai(nullable)]
    pub event_type: Option<String>,
    /// Channel index of a channel packet.
    #[oai(nullable)]
    pub channel_idx: Option<i32>,
    /// First bytes of the sender's public key, as hex; null when redacted.
    #[oai(nullable)]
    pub source_pubkey_prefix: Option<String>,
    /// `flood`, `direct`, `transport_flood`, ...
    #[oai(nullable)]
    pub route_type: Option<String>,
    /// Hops the packet had taken.
    #[oai(nullable)]
    pub path_len: Option<i32>,
    /// Signal-to-noise ratio at the observer.
    #[oai(nullable)]
    pub snr: Option<f64>,
    /// The decoded packet as the collector stored it (keys in stored order); null when
    /// redacted or not decoded.
    #[oai(nullable)]
    pub decoded: Option<serde_json::Value>,
    /// Whether the packet is on a channel the caller may not read.
    pub redacted: bool,
    /// When the observer heard it (RFC 3339, UTC).
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
}

/// Reads the kept totals of the `decryptable` filter, both values, as an anonymous caller
/// first asks for them (no window, first page), so that its first requests after a start
/// do not count every packet's text (half a second at `large`).
/// [`read_kept_values`](crate::server::read_kept_values) runs it when `serve` starts; what it
/// keeps is what those requests would have kept, so no response changes.
///
/// ```no_run
/// # async fn start(state: hub_api::state::AppState) {
/// tokio::spawn(async move { hub_api::routes::packets::read_kept_totals(&state).await });
/// # }
/// ```
pub async fn read_kept_totals(state: &AppState) -> Result<(), ApiError> {
    let db = &state.db;
    let visible = visible_channels(db, hub_core::roles::Role::Anonymous).await?;
    for decryptable in [true, false] {
        let filters = PacketFilters {
            decryptable: Some(decryptable),
            ..PacketFilters::default()
        };
        let page = PageRequest {
            limit: crate::page::default_limit(),
            offset: 0,
        };
        let sort = PacketSort::Time;
        query::list_packets(
            db,
            &state.list_days,
            &filters,
            &visible,
            sort,
            Order::Desc,
            page,
        )
        .await?;
    }
    Ok(())
}

/// Raw packet endpoints.
pub struct PacketsApi;

/// A comma list: trimmed, blanks dropped, duplicates removed, case kept; capped.
fn comma_list(name: &'static str, value: Option<&str>) -> Result<Vec<String>, ApiError> {
    distinct_list(name, value.unwrap_or_default().split(','), |token| {
        let token = token.trim();
        (!token.is_empty()).then(|| token.to_string())
    })
}

/// The `packet_type` comma list: each non-blank token must be an optional `-` followed by
/// ASCII digits, else the whole parameter is a 422.
fn packet_types(value: Option<&str>) -> Result<Vec<i64>, ApiError> {
    let mut list = Vec::new();
    for token in comma_list("packet_type", value)? {
        let digits = token.strip_prefix('-').unwrap_or(&token);
        let number = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            token.parse::<i64>().ok()
        } else {
            None
        };
        let Some(number) = number else {
            return Err(ApiError::invalid_query(
                "packet_type",
                format!("Input should be a comma-separated list of integers, got token {token:?}"),
                "int_parsing",
            ));
        };
        if !list.contains(&number) {
            list.push(number);
        }
    }
    Ok(list)
}

/// The `route_type` list: `all`, `none` or blank mean no filter.
fn route_types(value: Option<&str>) -> Result<Vec<String>, ApiError> {
    match lowercase(value).as_deref() {
        None | Some("all") | Some("none") => Ok(Vec::new()),
        Some(v) => lowercase_list("route_type", v.split(',')),
    }
}

/// Observer public keys: trimmed and lowercased (keys are stored lowercase), duplicates
/// removed, capped. A blank value is kept: it filters on the empty key and matches nothing.
fn observer_keys(values: &BTreeSet<String>) -> Result<Vec<String>, ApiError> {
    distinct_list("observed_by", values, |value| {
        Some(value.trim().to_ascii_lowercase())
    })
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Packets")]
impl PacketsApi {
    /// List raw packets
    ///
    /// Every packet is listed; those on a channel the caller's role may not read are
    /// redacted (`raw_hex`, `source_pubkey_prefix` and `decoded` null, `redacted` true).
    /// Filters combine with AND. A `search` without `since` covers the last 7 days. Every
    /// sort ends with the packet id so pages are stable; NULLs sort first ascending and last
    /// descending.
    #[oai(path = "/packets", method = "get")]
    #[cached(name = "packets", key = role_key, reads = [raw_packets, packet_path_hops, channels, nodes, node_tags, event_observers])]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        /// Case-insensitive substring of packet hash, raw hex (of packets the caller may
        /// read), observer name or observer public key. `%` and `_` act as wildcards.
        search: Query<Option<String>>,
        /// Comma list of event types (exact, case-sensitive).
        event_type: Query<Option<String>>,
        /// Comma list of integer packet types; any other token is a 422.
        packet_type: Query<Option<IntegerListParam>>,
        /// Exact packet hash, in either case.
        packet_hash: Query<Option<String>>,
        /// Channel index.
        channel_idx: Query<Option<i64>>,
        /// Comma list of route types (case-insensitive); `all`, `none` or blank: no filter.
        route_type: Query<Option<String>>,
        /// Exact source public key prefix (`source_pubkey_prefix`), in either case.
        public_key: Query<Option<String>>,
        /// Same filter as `public_key`, used when `public_key` is absent or blank.
        pubkey_prefix: Query<Option<String>>,
        /// Public key of the observer that captured the packet; repeat to match any of
        /// several. A blank value matches nothing.
        #[oai(default)]
        observed_by: Query<BTreeSet<String>>,
        /// true: packets whose decoded data says they were decrypted; false: decoded
        /// packets that were not. Packets never decoded match neither.
        decryptable: Query<Option<BoolParam>>,
        /// Minimum SNR.
        min_snr: Query<Option<f64>>,
        /// Maximum SNR.
        max_snr: Query<Option<f64>>,
        /// Minimum path length.
        min_path_len: Query<Option<i64>>,
        /// Maximum path length.
        max_path_len: Query<Option<i64>>,
        /// true: only redacted packets; false: only packets the caller may read.
        redacted: Query<Option<BoolParam>>,
        /// Only packets received at or after this time (RFC 3339).
        since: Query<Option<DateTimeParam>>,
        /// Only packets received at or before this time (RFC 3339).
        until: Query<Option<DateTimeParam>>,
        /// time (default, received_at), event_type, packet_type, snr or path_len.
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-100.
        #[oai(
            default = "crate::page::default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> Reply<Json<Page<RawPacketRead>>, ListErrors> {
        let search = lowercase(search.as_deref());
        let mut window = TimeWindow::parse(since.as_deref(), until.as_deref())?;
        if search.is_some() && window.since.is_none() {
            window.since = Some(hub_core::time::now() - chrono::Duration::days(SEARCH_WINDOW_DAYS));
        }
        let source_prefix =
            lowercase(public_key.as_deref()).or(lowercase(pubkey_prefix.as_deref()));
        let filters = PacketFilters {
            search,
            event_types: comma_list("event_type", event_type.as_deref())?,
            packet_types: packet_types(packet_type.as_deref())?,
            packet_hash: packet_hash.0.clone().filter(|h| !h.is_empty()),
            channel_idx: channel_idx.0,
            route_types: route_types(route_type.as_deref())?,
            source_prefix,
            observed_by: observer_keys(&observed_by)?,
            decryptable: parse_bool("decryptable", decryptable.as_deref())?,
            min_snr: min_snr.0,
            max_snr: max_snr.0,
            min_path_len: min_path_len.0,
            max_path_len: max_path_len.0,
            redacted: parse_bool("redacted", redacted.as_deref())?,
            window,
        };
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let db = &state.db;
        let visible = visible_channels(db, caller.role)
            .await
            .map_err(ApiError::from)?;
        let (rows, total) = query::list_packets(
            db,
            &state.list_days,
            &filters,
            &visible,
            PacketSort::parse(sort.as_deref()),
            Order::parse(order.as_deref()),
            page,
        )
        .await?;
        Ok(Json(
            page.page(packet_reads(db, rows, &visible).await?, total),
        ))
    }

    /// Get a raw packet by id
    ///
    /// Redacted as in the list for a packet on a channel the caller may not read.
    #[oai(path = "/packets/:packet_id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        packet_id: Path<String>,
    ) -> Reply<Json<RawPacketRead>, ItemErrors> {
        const NOT_FOUND: &str = "Raw packet not found";
        let db = &state.db;
        let row = query::packet_by_id(db, packet_id.trim())
            .await?
            .ok_or(ApiError::NotFound(NOT_FOUND))?;
        let visible = visible_channels(db, caller.role)
            .await
            .map_err(ApiError::from)?;
        let mut items = packet_reads(db, vec![row], &visible).await?;
        items
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(NOT_FOUND).into())
    }
}

/// Packet rows as the caller who may read `visible` sees them, in order.
async fn packet_reads(
    db: &DatabaseConnection,
    rows: Vec<PacketRow>,
    visible: &BTreeSet<i32>,
) -> Result<Vec<RawPacketRead>, ApiError> {
    let names = observer_names(db, rows.iter().map(|r| &r.observer_node_id))
        .await
        .map_err(ApiError::from)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let observer = row.observer_node_id.as_ref().and_then(|id| names.get(id));
            let redacted = is_redacted(row.channel_idx, visible);
            RawPacketRead {
                id: row.id,
                observed_by: observer.map(|n| n.public_key.clone()),
                observer_name: observer.and_then(|n| n.name.clone()),
                observer_tag_name: observer.and_then(|n| n.tag_name.clone()),
                packet_hash: row.packet_hash,
                raw_hex: row.raw_hex.filter(|_| !redacted),
                packet_type: row.packet_type,
                payload_type: row.payload_type,
                event_type: row.event_type,
                channel_idx: row.channel_idx,
                source_pubkey_prefix: row.source_pubkey_prefix.filter(|_| !redacted),
                route_type: row.route_type,
                path_len: row.path_len,
                snr: row.snr,
                decoded: if redacted {
                    None
                } else {
                    json_object(row.decoded.as_deref(), "decoded")
                },
                redacted,
                received_at: rfc3339(row.received_at),
                created_at: rfc3339(row.created_at),
            }
        })
        .collect())
}
