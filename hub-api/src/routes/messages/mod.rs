//! `/api/v1/messages`: contact and channel messages, filtered by what the caller may read.

mod query;

use crate::caller::{Caller, role_key};
use crate::documented::{BoolParam, DateTimeParam};
use crate::page::Page;
use crate::params::{Order, lowercase, lowercase_list, parse_bool};
use crate::query::list::PageRequest;
use crate::query::lookups::ObserverRead;
use crate::query::time_window::TimeWindow;
use crate::responses::{ItemErrors, ListErrors, Reply};
use crate::routes::ApiTags;
use crate::state::AppState;
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::collections::BTreeSet;
use std::sync::Arc;

/// A message with its sender's and observers' names.
#[derive(Debug, Clone, Object)]
pub struct MessageRead {
    /// Public key of the observer that stored the message (the primary observer).
    #[oai(nullable)]
    pub observed_by: Option<String>,
    /// The primary observer's advertised name.
    #[oai(nullable)]
    pub observer_name: Option<String>,
    /// The primary observer's `name` tag.
    #[oai(nullable)]
    pub observer_tag_name: Option<String>,
    /// `contact` or `channel`.
    pub message_type: String,
    /// First bytes of the sender's public key, as hex (contact messages).
    #[oai(nullable)]
    pub pubkey_prefix: Option<String>,
    /// Name of the node whose public key starts with `pubkey_prefix`.
    #[oai(nullable)]
    pub sender_name: Option<String>,
    /// That node's `name` tag.
    #[oai(nullable)]
    pub sender_tag_name: Option<String>,
    /// Channel index (channel messages).
    #[oai(nullable)]
    pub channel_idx: Option<i32>,
    /// The message text.
    pub text: String,
    /// Hops the packet had taken.
    #[oai(nullable)]
    pub path_len: Option<i32>,
    /// MeshCore text type.
    #[oai(nullable)]
    pub txt_type: Option<i32>,
    /// Message signature, as hex.
    #[oai(nullable)]
    pub signature: Option<String>,
    /// Signal-to-noise ratio at the primary observer.
    #[oai(nullable)]
    pub snr: Option<f64>,
    /// The sender's own clock at sending (RFC 3339, UTC).
    #[oai(nullable)]
    pub sender_timestamp: Option<String>,
    /// When the primary observer heard it.
    pub received_at: String,
    /// Row creation time.
    pub created_at: String,
    /// Hash of the raw packet.
    #[oai(nullable)]
    pub packet_hash: Option<String>,
    /// Spam likelihood, 0-1, when scored.
    #[oai(nullable)]
    pub spam_score: Option<f64>,
    /// Every observer that heard this message, oldest first (empty without an event hash).
    pub observers: Vec<ObserverRead>,
}

/// Message endpoints.
pub struct MessagesApi;

/// The `message_type` filter: any stored type, matched exactly as MeshCore Hub does
/// (`contact` and `channel` are the collector's; other writers store others). Blank: no filter.
fn message_type_filter(value: Option<&str>) -> Option<String> {
    value.filter(|t| !t.is_empty()).map(str::to_owned)
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
    #[cached(name = "messages", key = role_key, reads = [messages, channels, nodes, node_tags, event_observers])]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        /// Exact, case-sensitive message type as stored (the collector writes `contact` and
        /// `channel`); any other value matches the messages stored with it, or none.
        message_type: Query<Option<String>>,
        /// Exact sender public key prefix (case-insensitive).
        pubkey_prefix: Query<Option<String>>,
        /// Channel index.
        channel_idx: Query<Option<i32>>,
        /// Observer public key; repeat the parameter to match any of several observers.
        #[oai(default)]
        observed_by: Query<BTreeSet<String>>,
        /// Only messages received at or after this time (RFC 3339).
        since: Query<Option<DateTimeParam>>,
        /// Only messages received at or before this time (RFC 3339).
        until: Query<Option<DateTimeParam>>,
        /// Case-insensitive substring of the text.
        search: Query<Option<String>>,
        /// With spam detection on (SPAM_DETECTION_ENABLED), messages scoring at least
        /// SPAM_SCORE_THRESHOLD (default 0.65) are hidden unless this is true; default false.
        include_spam: Query<Option<BoolParam>>,
        /// time (default, received_at), type, from (pubkey_prefix) or message (text).
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
    ) -> Reply<Json<Page<MessageRead>>, ListErrors> {
        let include_spam = parse_bool("include_spam", include_spam.as_deref())?.unwrap_or(false);
        let filter = query::MessageFilter {
            message_type: message_type_filter(message_type.as_deref()),
            pubkey_prefix: lowercase(pubkey_prefix.as_deref()),
            channel_idx: channel_idx.0,
            observed_by: lowercase_list("observed_by", observed_by.iter())?,
            window: TimeWindow::parse(since.as_deref(), until.as_deref())?,
            search: lowercase(search.as_deref()),
            hide_spam_from: state.spam.hidden_from(include_spam),
        };
        let page = PageRequest {
            limit: limit.0,
            offset: offset.0,
        };
        let order = Order::parse(order.as_deref());
        let (items, total) = query::list(
            &state.db,
            &state.list_days,
            caller.role,
            &filter,
            sort.as_deref(),
            order,
            page,
        )
        .await?;
        Ok(Json(page.page(items, total)))
    }

    /// Get a message by id
    ///
    /// A message the caller may not read is answered like a missing one, so its existence
    /// does not leak.
    #[oai(path = "/messages/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        id: Path<String>,
    ) -> Reply<Json<MessageRead>, ItemErrors> {
        Ok(Json(query::by_id(&state.db, caller.role, &id).await?))
    }
}
