//! `/api/v1/messages`: contact and channel messages, filtered by what the caller may read.
//!
//! Channel visibility is applied in SQL on every query (see [`visible_messages`]), so the
//! list's `total` and single-message look-ups never reveal a message the caller's role may
//! not read.

use crate::caller::Caller;
use crate::caller::role_key;
use crate::error::ApiError;
use crate::lookups::{
    ObserverRead, names_by_node_id, observers_by_event, senders_by_prefix, visible_channels,
};
use crate::page::Page;
use crate::params::{
    Bound, Order, contains_pattern, datetime_bound, lowercase, lowercase_list, parse_bool,
    parse_datetime, sql,
};
use crate::routes::ApiTags;
use crate::routes::advertisements::observed_by_condition;
use crate::state::AppState;
use hub_core::entity::messages;
use hub_core::time::{rfc3339, rfc3339_opt};
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use sea_orm::sea_query::NullOrdering;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::{BTreeSet, HashMap};

/// Messages scoring at least this are spam, hidden unless `include_spam` is set.
pub const SPAM_THRESHOLD: f64 = 0.65;

/// A message with its sender's and observers' names.
#[derive(Debug, Clone, Object)]
pub struct MessageRead {
    /// Public key of the observer that stored the message (the primary observer).
    pub observed_by: Option<String>,
    /// The primary observer's advertised name.
    pub observer_name: Option<String>,
    /// The primary observer's `name` tag.
    pub observer_tag_name: Option<String>,
    /// `contact` or `channel`.
    pub message_type: String,
    /// First bytes of the sender's public key, as hex (contact messages).
    pub pubkey_prefix: Option<String>,
    /// Name of the node whose public key starts with `pubkey_prefix`.
    pub sender_name: Option<String>,
    /// That node's `name` tag.
    pub sender_tag_name: Option<String>,
    /// Channel index (channel messages).
    pub channel_idx: Option<i32>,
    /// The message text.
    pub text: String,
    /// Hops the packet had taken.
    pub path_len: Option<i32>,
    /// MeshCore text type.
    pub txt_type: Option<i32>,
    /// Message signature, as hex.
    pub signature: Option<String>,
    /// Signal-to-noise ratio at the primary observer.
    pub snr: Option<f64>,
    /// The sender's own clock at sending (RFC 3339, UTC).
    pub sender_timestamp: Option<String>,
    /// When the primary observer heard it.
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
    /// Hash of the raw packet.
    pub packet_hash: Option<String>,
    /// Spam likelihood, 0-1, when scored.
    pub spam_score: Option<f64>,
    /// Every observer that heard this message, oldest first (empty without an event hash).
    pub observers: Vec<ObserverRead>,
}

/// Message endpoints.
pub struct MessagesApi;

fn default_limit() -> i64 {
    50
}

/// Rows a caller who may read the channel indices `visible` may see: every non-channel
/// message, channel messages without an index, and channel messages on a visible index.
///
/// `visible` comes from [`visible_channels`] and always holds the Public channel (17), so
/// the `IN` list is never empty.
pub fn visible_messages(visible: &BTreeSet<i32>) -> Condition {
    Condition::any()
        .add(messages::Column::MessageType.ne("channel"))
        .add(messages::Column::ChannelIdx.is_null())
        .add(messages::Column::ChannelIdx.is_in(visible.iter().copied()))
}

/// The `message_type` filter: `contact` or `channel` (any case); anything else is a 422.
fn parse_message_type(value: Option<&str>) -> Result<Option<String>, ApiError> {
    match lowercase(value) {
        None => Ok(None),
        Some(t) if t == "contact" || t == "channel" => Ok(Some(t)),
        Some(_) => Err(ApiError::invalid_query(
            "message_type",
            "Input should be 'contact' or 'channel'",
            "enum",
        )),
    }
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Messages")]
impl MessagesApi {
    /// List messages
    ///
    /// Only messages the caller's role may read are listed and counted: channel messages on
    /// a channel above the caller's level, or on an index with no configured channel (other
    /// than Public, 17), are left out. Filters combine with AND. Every sort ends with the
    /// message id so pages are stable.
    #[oai(path = "/messages", method = "get")]
    #[cached(name = "messages", key = role_key)]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// `contact` or `channel`.
        message_type: Query<Option<String>>,
        /// Exact sender public key prefix (case-insensitive).
        pubkey_prefix: Query<Option<String>>,
        /// Channel index.
        channel_idx: Query<Option<i32>>,
        /// Observer public key; repeat the parameter to match any of several observers.
        #[oai(default)]
        observed_by: Query<Vec<String>>,
        /// Only messages received at or after this time (RFC 3339).
        since: Query<Option<String>>,
        /// Only messages received at or before this time (RFC 3339).
        until: Query<Option<String>>,
        /// Case-insensitive substring of the text.
        search: Query<Option<String>>,
        /// Include messages scored as spam (spam_score >= 0.65); default false.
        include_spam: Query<Option<String>>,
        /// time (default, received_at), type, from (pubkey_prefix) or message (text).
        sort: Query<Option<String>>,
        /// desc (default) or asc.
        order: Query<Option<String>>,
        /// Page size, 1-100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Items to skip.
        #[oai(default, validator(minimum(value = "0")))]
        offset: Query<i64>,
    ) -> poem::Result<Json<Page<MessageRead>>> {
        let db = &state.db;
        let backend = db.get_database_backend();
        let message_type = parse_message_type(message_type.as_deref())?;
        let observed_by = lowercase_list("observed_by", observed_by.iter())?;
        let since = parse_datetime("since", since.as_deref())?;
        let until = parse_datetime("until", until.as_deref())?;
        let include_spam = parse_bool("include_spam", include_spam.as_deref())?.unwrap_or(false);

        let visible = visible_channels(db, caller.role)
            .await
            .map_err(ApiError::from)?;
        let mut filter = Condition::all().add(visible_messages(&visible));
        if let Some(message_type) = message_type {
            filter = filter.add(messages::Column::MessageType.eq(message_type));
        }
        if let Some(prefix) = lowercase(pubkey_prefix.as_deref()) {
            filter = filter.add(messages::Column::PubkeyPrefix.eq(prefix));
        }
        if let Some(idx) = channel_idx.0 {
            filter = filter.add(messages::Column::ChannelIdx.eq(idx));
        }
        if let Some(cond) = observed_by_condition(backend, "messages", "message", &observed_by) {
            filter = filter.add(cond);
        }
        if let Some(since) = since {
            filter = filter.add(messages::Column::ReceivedAt.gte(datetime_bound(
                backend,
                since,
                Bound::Lower,
            )));
        }
        if let Some(until) = until {
            filter = filter.add(messages::Column::ReceivedAt.lte(datetime_bound(
                backend,
                until,
                Bound::Upper,
            )));
        }
        if let Some(search) = lowercase(search.as_deref()) {
            filter = filter.add(sql(
                backend,
                "LOWER(messages.text) LIKE ? ESCAPE '\\'",
                [contains_pattern(&search)],
            ));
        }
        if !include_spam {
            // Unscored messages are not spam.
            filter = filter.add(
                Condition::any()
                    .add(messages::Column::SpamScore.is_null())
                    .add(messages::Column::SpamScore.lt(SPAM_THRESHOLD)),
            );
        }

        let query = messages::Entity::find().filter(filter);
        let total = query.clone().count(db).await.map_err(ApiError::from)?;

        let order = Order::parse(order.as_deref());
        let mut select = query.limit(limit.0 as u64).offset(offset.0 as u64);
        // Column sorts fall back to newest (or oldest, with asc) first within equal values.
        match sort.as_deref().map(str::trim) {
            Some("type") => {
                select = select
                    .order_by(messages::Column::MessageType, order.sea())
                    .order_by(messages::Column::ReceivedAt, order.sea());
            }
            Some("from") => {
                // Channel messages carry no prefix; they come after every sender.
                QueryTrait::query(&mut select).order_by_with_nulls(
                    (messages::Entity, messages::Column::PubkeyPrefix),
                    order.sea(),
                    NullOrdering::Last,
                );
                select = select.order_by(messages::Column::ReceivedAt, order.sea());
            }
            Some("message") => {
                select = select
                    .order_by(messages::Column::Text, order.sea())
                    .order_by(messages::Column::ReceivedAt, order.sea());
            }
            _ => select = select.order_by(messages::Column::ReceivedAt, order.sea()),
        }
        let rows = select
            .order_by(messages::Column::Id, order.sea())
            .all(db)
            .await
            .map_err(ApiError::from)?;
        let items = message_reads(db, rows).await?;
        Ok(Json(Page {
            items,
            total,
            limit: limit.0,
            offset: offset.0,
        }))
    }

    /// Get a message by id
    ///
    /// A message the caller may not read is answered like a missing one, so its existence
    /// does not leak.
    #[oai(path = "/messages/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        id: Path<String>,
    ) -> poem::Result<Json<MessageRead>> {
        let db = &state.db;
        let visible = visible_channels(db, caller.role)
            .await
            .map_err(ApiError::from)?;
        let message = messages::Entity::find_by_id(id.0.trim().to_string())
            .filter(visible_messages(&visible))
            .one(db)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("Message not found"))?;
        let mut items = message_reads(db, vec![message]).await?;
        items
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::NotFound("Message not found").into())
    }
}

/// Attaches observer and sender names and the observer lists to message rows, keeping their
/// order. A fixed number of queries per page.
async fn message_reads(
    db: &DatabaseConnection,
    rows: Vec<messages::Model>,
) -> Result<Vec<MessageRead>, ApiError> {
    let observer_ids: Vec<String> = rows
        .iter()
        .filter_map(|m| m.observer_node_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let observer_names = names_by_node_id(db, &observer_ids).await?;
    let prefixes: Vec<String> = rows
        .iter()
        .filter_map(|m| m.pubkey_prefix.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let senders = senders_by_prefix(db, &prefixes).await?;
    let hashes: Vec<String> = rows
        .iter()
        .filter_map(|m| m.event_hash.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut observers: HashMap<String, Vec<ObserverRead>> =
        observers_by_event(db, "message", &hashes).await?;

    Ok(rows
        .into_iter()
        .map(|m| {
            let observer = m
                .observer_node_id
                .as_ref()
                .and_then(|id| observer_names.get(id));
            let sender = m.pubkey_prefix.as_ref().and_then(|p| senders.get(p));
            MessageRead {
                observed_by: observer.map(|n| n.public_key.clone()),
                observer_name: observer.and_then(|n| n.name.clone()),
                observer_tag_name: observer.and_then(|n| n.tag_name.clone()),
                sender_name: sender.and_then(|n| n.name.clone()),
                sender_tag_name: sender.and_then(|n| n.tag_name.clone()),
                // Two messages never share an event hash (unique), so taking is safe.
                observers: m
                    .event_hash
                    .as_ref()
                    .and_then(|h| observers.remove(h))
                    .unwrap_or_default(),
                message_type: m.message_type,
                pubkey_prefix: m.pubkey_prefix,
                channel_idx: m.channel_idx,
                text: m.text,
                path_len: m.path_len,
                txt_type: m.txt_type,
                signature: m.signature,
                snr: m.snr,
                sender_timestamp: rfc3339_opt(m.sender_timestamp),
                received_at: rfc3339(m.received_at),
                created_at: rfc3339(m.created_at),
                packet_hash: m.packet_hash,
                spam_score: m.spam_score,
            }
        })
        .collect())
}
