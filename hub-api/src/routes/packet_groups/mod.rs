//! `/api/v1/packet-groups`: raw packets grouped by `packet_hash`, one reception per
//! (observer, path) row (docs/contract/api-2.md section 2).
//!
//! The list counts only the rows its filters keep (and, without `since`, only the last 7
//! days), while each group's display fields come from its oldest row overall, as MeshCore
//! Hub does. A group whose oldest row is on a channel the caller may not read is redacted.

mod page;
mod query;
mod total;

use crate::caller::{Caller, role_key};
use crate::documented::DateTimeParam;
use crate::error::ApiError;
use crate::page::Page;
use crate::params::{Order, lowercase, parse_datetime};
use crate::query::filters::hex_spellings;
use crate::query::group_hours::GroupHours;
use crate::query::json::json_object;
use crate::query::lookups::observer_names;
use crate::query::lookups::visible_channels;
use crate::query::raw_packets::{PacketRow, is_redacted};
use crate::responses::{ItemErrors, ListErrors, Reply};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_core::time::rfc3339;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::DatabaseConnection;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[doc(hidden)]
pub use query::{GroupAggregate, GroupFilters, GroupSort, list_groups as list_groups_by_sql};

/// Days the list covers when no `since` is given.
pub const DEFAULT_WINDOW_DAYS: i64 = 7;

/// The widest path hash MeshCore writes, in bytes: the largest `path_hash_bytes` filter (its
/// validator repeats it as a literal, the only form poem-openapi takes; a test ties the two).
pub const MAX_PATH_HASH_BYTES: i64 = 3;

/// One reception of a packet: one observer hearing it over one path.
#[derive(Debug, Clone, Object)]
pub struct PacketReceptionInfo {
    /// The raw packet row's id.
    pub packet_id: String,
    /// Public key of the observer.
    #[oai(nullable)]
    pub observed_by: Option<String>,
    /// The observer's advertised name.
    #[oai(nullable)]
    pub observer_name: Option<String>,
    /// The observer's `name` tag.
    #[oai(nullable)]
    pub observer_tag_name: Option<String>,
    /// Signal-to-noise ratio at the observer.
    #[oai(nullable)]
    pub snr: Option<f64>,
    /// Hops the packet had taken.
    #[oai(nullable)]
    pub path_len: Option<i32>,
    /// Node hashes of the path, in order; null when redacted or when no hops were recorded.
    #[oai(nullable)]
    pub path_hashes: Option<Vec<String>>,
    /// When the observer heard it (RFC 3339, UTC).
    pub received_at: String,
    /// Whether this reception is on a channel the caller may not read.
    pub redacted: bool,
}

/// The receptions of one packet hash.
#[derive(Debug, Clone, Object)]
pub struct GroupedPacketRead {
    /// The shared packet hash.
    #[oai(nullable)]
    pub packet_hash: Option<String>,
    /// Event type of the oldest reception.
    #[oai(nullable)]
    pub event_type: Option<String>,
    /// Channel index of the oldest reception.
    #[oai(nullable)]
    pub channel_idx: Option<i32>,
    /// Packet type of the oldest reception.
    #[oai(nullable)]
    pub packet_type: Option<i32>,
    /// Payload type of the oldest reception.
    #[oai(nullable)]
    pub payload_type: Option<i32>,
    /// Route type of the oldest reception.
    #[oai(nullable)]
    pub route_type: Option<String>,
    /// Sender public key prefix of the oldest reception; null when redacted.
    #[oai(nullable)]
    pub source_pubkey_prefix: Option<String>,
    /// Receptions counted (list: those matching the filters; detail: all).
    pub reception_count: i64,
    /// Distinct observers among them.
    pub observer_count: i64,
    /// Widest path hash (bytes) among the counted receptions; null when redacted, and
    /// always null in the detail view.
    #[oai(nullable)]
    pub path_hash_bytes: Option<i32>,
    /// The receptions, oldest first; always empty in the list.
    pub receptions: Vec<PacketReceptionInfo>,
    /// First reception (list: among those counted) (RFC 3339, UTC).
    pub first_seen: String,
    /// Whether the group is hidden from the caller (list: its oldest reception is; detail:
    /// every reception is).
    pub redacted: bool,
    /// Raw hex of the oldest reception the caller may read; always null in the list.
    #[oai(nullable)]
    pub raw_hex: Option<String>,
    /// Decoded data of that reception; always null in the list.
    #[oai(nullable)]
    pub decoded: Option<serde_json::Value>,
}

/// One page of groups and the number of groups: exactly what [`list_groups_by_sql`] returns
/// (a time-sorted page by walking the window's rows, `page.rs`; the total with hours before
/// `now` kept in `kept`, `total.rs`), without grouping the whole window on every request.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub async fn list_groups(
    db: &DatabaseConnection,
    kept: &GroupHours,
    filters: &GroupFilters,
    sort: GroupSort,
    order: Order,
    limit: u64,
    offset: u64,
    now: chrono::NaiveDateTime,
) -> Result<(Vec<GroupAggregate>, u64), ApiError> {
    let filters = &query::resolve_search_observers(db, filters).await?;
    let walked = match sort {
        GroupSort::Time => page::time_page(db, filters, order, limit, offset).await?,
        _ => None,
    };
    let groups = match walked {
        Some(groups) => groups,
        None => query::page_by_sql(db, filters, sort, order, limit, offset).await?,
    };
    let total = total::count_groups(db, kept, filters, now).await?;
    Ok((groups, total))
}

/// Reads the hours the list's total keeps for its first page as a client first asks for it
/// (no filter, the last 7 days), so that the first requests after a start find them kept:
/// [`read_kept_values`](crate::server::read_kept_values) runs it when `serve` starts.
pub async fn read_kept_hours(state: &AppState) -> Result<(), ApiError> {
    total::read_default_hours(&state.db, &state.packet_group_hours, hub_core::time::now()).await
}

/// Packet group endpoints.
pub struct PacketGroupsApi;

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::PacketGroups")]
impl PacketGroupsApi {
    /// List packet groups
    ///
    /// Groups raw packets by packet hash over the rows matching the filters; without
    /// `since` only the last 7 days are covered. Counts and `first_seen` cover the matching
    /// rows; the type fields come from the group's oldest row. Every sort ends with the
    /// packet hash so pages are stable.
    #[oai(path = "/packet-groups", method = "get")]
    #[cached(name = "packet_groups", key = role_key, reads = [raw_packets, packet_path_hops, channels, nodes, node_tags, event_observers])]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        /// Case-insensitive substring of the packet hash or the observer's name.
        search: Query<Option<String>>,
        /// Exact event type.
        event_type: Query<Option<String>>,
        /// Channel index.
        channel_idx: Query<Option<i64>>,
        /// Only groups whose widest path hash has this many bytes (1-3).
        #[oai(validator(minimum(value = "1"), maximum(value = "3")))]
        path_hash_bytes: Query<Option<i64>>,
        /// Only rows received at or after this time (RFC 3339); default 7 days ago.
        since: Query<Option<DateTimeParam>>,
        /// Only rows received at or before this time (RFC 3339).
        until: Query<Option<DateTimeParam>>,
        /// time (default, first reception), event_type or reception_count.
        sort: Query<Option<String>>,
        /// desc (default) or asc (exact).
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
    ) -> Reply<Json<Page<GroupedPacketRead>>, ListErrors> {
        let since = parse_datetime("since", since.as_deref())?
            .unwrap_or_else(|| hub_core::time::now() - chrono::Duration::days(DEFAULT_WINDOW_DAYS));
        let filters = GroupFilters {
            search: lowercase(search.as_deref()),
            search_observers: None,
            event_type: event_type.0.clone().filter(|t| !t.is_empty()),
            channel_idx: channel_idx.0,
            path_hash_bytes: path_hash_bytes.0,
            rows_at_least_bytes: None,
            since,
            until: parse_datetime("until", until.as_deref())?,
        };
        let order = match order.as_deref() {
            Some("asc") => Order::Asc,
            _ => Order::Desc,
        };
        let db = &state.db;
        let (groups, total) = list_groups(
            db,
            &state.packet_group_hours,
            &filters,
            GroupSort::parse(sort.as_deref()),
            order,
            limit.0 as u64,
            offset.0 as u64,
            hub_core::time::now(),
        )
        .await?;
        let visible = visible_channels(db, caller.role)
            .await
            .map_err(ApiError::from)?;
        let hashes: Vec<String> = groups.iter().map(|g| g.packet_hash.clone()).collect();
        let mut representatives: HashMap<String, PacketRow> = HashMap::new();
        for row in query::rows_of_groups(db, &hashes).await? {
            if let Some(hash) = row.packet_hash.clone() {
                representatives.entry(hash).or_insert(row);
            }
        }
        let items = groups
            .into_iter()
            .map(|group| {
                let first = representatives.get(&group.packet_hash);
                let redacted = first.is_some_and(|r| is_redacted(r.channel_idx, &visible));
                GroupedPacketRead {
                    event_type: first.and_then(|r| r.event_type.clone()),
                    channel_idx: first.and_then(|r| r.channel_idx),
                    packet_type: first.and_then(|r| r.packet_type),
                    payload_type: first.and_then(|r| r.payload_type),
                    route_type: first.and_then(|r| r.route_type.clone()),
                    source_pubkey_prefix: first
                        .and_then(|r| r.source_pubkey_prefix.clone())
                        .filter(|_| !redacted),
                    packet_hash: Some(group.packet_hash),
                    reception_count: group.reception_count,
                    observer_count: group.observer_count,
                    path_hash_bytes: group.path_hash_bytes.filter(|_| !redacted),
                    receptions: Vec::new(),
                    first_seen: rfc3339(group.first_seen),
                    redacted,
                    raw_hex: None,
                    decoded: None,
                }
            })
            .collect();
        Ok(Json(Page {
            items,
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Get a packet group by packet hash
    ///
    /// Every reception of the packet (no time window), oldest first, with its path. The
    /// hash matches in either case.
    /// Receptions on a channel the caller may not read are redacted; `raw_hex` and
    /// `decoded` come from the oldest reception the caller may read.
    #[oai(path = "/packet-groups/:packet_hash", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        packet_hash: Path<String>,
    ) -> Reply<Json<GroupedPacketRead>, ItemErrors> {
        let db = &state.db;
        // The hash in either case: the collector stores it as LetsMesh sent it (uppercase).
        let rows = query::rows_of_groups(db, &hex_spellings(&packet_hash)).await?;
        let Some(first) = rows.first().cloned() else {
            return Err(ApiError::NotFound("Packet group not found").into());
        };
        let visible = visible_channels(db, caller.role)
            .await
            .map_err(ApiError::from)?;
        let names = observer_names(db, rows.iter().map(|r| &r.observer_node_id))
            .await
            .map_err(ApiError::from)?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut hops = query::hops_by_packet(db, &ids).await?;

        let mut observer_keys = BTreeSet::new();
        let mut readable: Option<&PacketRow> = None;
        let mut receptions = Vec::with_capacity(rows.len());
        for row in &rows {
            let redacted = is_redacted(row.channel_idx, &visible);
            if !redacted && readable.is_none() {
                readable = Some(row);
            }
            let observer = row.observer_node_id.as_ref().and_then(|id| names.get(id));
            if let Some(observer) = observer {
                observer_keys.insert(observer.public_key.clone());
            }
            let path = hops.remove(&row.id);
            receptions.push(PacketReceptionInfo {
                packet_id: row.id.clone(),
                observed_by: observer.map(|n| n.public_key.clone()),
                observer_name: observer.and_then(|n| n.name.clone()),
                observer_tag_name: observer.and_then(|n| n.tag_name.clone()),
                snr: row.snr,
                path_len: row.path_len,
                path_hashes: path.filter(|_| !redacted),
                received_at: rfc3339(row.received_at),
                redacted,
            });
        }
        let all_redacted = readable.is_none();
        Ok(Json(GroupedPacketRead {
            packet_hash: first.packet_hash.clone(),
            event_type: first.event_type,
            channel_idx: first.channel_idx,
            packet_type: first.packet_type,
            payload_type: first.payload_type,
            route_type: first.route_type,
            source_pubkey_prefix: first.source_pubkey_prefix.filter(|_| !all_redacted),
            reception_count: rows.len() as i64,
            observer_count: observer_keys.len() as i64,
            path_hash_bytes: None,
            receptions,
            first_seen: rfc3339(first.received_at),
            redacted: all_redacted,
            raw_hex: readable.and_then(|r| r.raw_hex.clone()),
            decoded: readable.and_then(|r| json_object(r.decoded.as_deref(), "decoded")),
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_path_hash_bytes_maximum_is_the_constant() {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::app::openapi().spec()).expect("OpenAPI JSON");
        let parameters = spec["paths"]["/api/v1/packet-groups"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let width = parameters
            .iter()
            .find(|p| p["name"] == "path_hash_bytes")
            .expect("path_hash_bytes");
        assert_eq!(
            width["schema"]["maximum"].as_f64(),
            Some(super::MAX_PATH_HASH_BYTES as f64)
        );
    }
}
