//! SQL of the message endpoints.
//!
//! Channel visibility is applied in SQL on every query ([`visible_messages`]), so the list's
//! `total` and single-message look-ups never reveal a message the caller's role may not read.

use super::MessageRead;
use crate::error::ApiError;
use crate::params::{Order, contains_pattern, lower_like, sql};
use crate::query::filters::{
    ObserverPlan, hex_equals, not_spam, observed_by_condition, observed_events, observer_ids,
    unindexed_in, visible_messages,
};
use crate::query::list::{PageRequest, SortKey, Total, fetch_counted_page};
use crate::query::lookups::{
    names_by_node_id, observers_by_event, senders_by_prefix, visible_channels,
};
use crate::query::past_days::PastDays;
use crate::query::time_window::TimeWindow;
use hub_core::entity::messages;
use hub_core::roles::Role;
use hub_core::time::{rfc3339, rfc3339_opt};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, QueryFilter};
use std::collections::BTreeSet;

/// The filters of the message list, already parsed.
#[derive(Debug, Default)]
pub(crate) struct MessageFilter {
    /// `contact` or `channel`.
    pub message_type: Option<String>,
    /// Exact sender prefix (lowercase).
    pub pubkey_prefix: Option<String>,
    /// Channel index.
    pub channel_idx: Option<i32>,
    /// Observer public keys (lowercase); empty means any.
    pub observed_by: Vec<String>,
    /// The received_at window.
    pub window: TimeWindow,
    /// Substring of the text (lowercase).
    pub search: Option<String>,
    /// Hide messages scoring at least this (spam detection on and `include_spam` false).
    pub hide_spam_from: Option<f64>,
}

impl MessageFilter {
    /// Every condition but the time window. Each reads the message row alone (or, for
    /// `observed_by`, its event's observers), so a past day's matches never change.
    /// `in_time_order`: the query reads a range of a day or two or the newest rows first
    /// (see [`message_type_condition`]).
    fn condition(
        &self,
        backend: DbBackend,
        visible: &BTreeSet<i32>,
        observer_ids: Option<&[String]>,
        observers: ObserverPlan,
        in_time_order: bool,
    ) -> Condition {
        let mut filter = Condition::all().add(visible_messages(visible));
        if let Some(message_type) = &self.message_type {
            filter = filter.add(message_type_condition(backend, message_type, in_time_order));
        }
        if let Some(prefix) = &self.pubkey_prefix {
            filter = filter.add(hex_equals(messages::Column::PubkeyPrefix, prefix));
        }
        if let Some(idx) = self.channel_idx {
            filter = filter.add(messages::Column::ChannelIdx.eq(idx));
        }
        if let Some(cond) =
            observed_by_condition(backend, "messages", "message", observer_ids, observers)
        {
            filter = filter.add(cond);
        }
        if let Some(search) = &self.search {
            filter = filter.add(sql(
                backend,
                &lower_like(backend, "messages.text"),
                [contains_pattern(search)],
            ));
        }
        if let Some(threshold) = self.hide_spam_from {
            filter = filter.add(not_spam(threshold));
        }
        filter
    }
}

/// The message types MeshCore Hub's collector writes: each is a large share of the table.
const COLLECTOR_MESSAGE_TYPES: [&str; 2] = ["channel", "contact"];

/// `message_type = ?`. For a query that reads a time range of a day or two or the newest rows
/// first (`in_time_order`), SQLite gets a unary `+` on the collector's types (same rows), which
/// keeps its planner off the `message_type` index: through it, a page or today's count of
/// channel messages loads all 375,000 of them at `large` (0.8-2.7 s) instead of walking
/// `received_at` and stopping after the page or the range (50 ms cold, a few ms warm). Other
/// values (few or no rows) keep the index, and PostgreSQL plans from its statistics.
fn message_type_condition(
    backend: DbBackend,
    message_type: &str,
    in_time_order: bool,
) -> Condition {
    let common = COLLECTOR_MESSAGE_TYPES.contains(&message_type);
    if in_time_order && common && backend == DbBackend::Sqlite {
        Condition::all().add(unindexed_in(
            backend,
            "messages.message_type",
            std::iter::once(message_type.to_string()),
        ))
    } else {
        Condition::all().add(messages::Column::MessageType.eq(message_type.to_string()))
    }
}

/// The sort keys of `sort`: `type`, `from` (sender prefix, channel messages last),
/// `message` (text) or `time` (the default); each falls back to the receive time.
fn sort_keys(sort: Option<&str>) -> Vec<SortKey> {
    let time = SortKey::by(messages::Column::ReceivedAt);
    match sort.map(str::trim) {
        Some("type") => vec![SortKey::by(messages::Column::MessageType), time],
        // Channel messages carry no prefix; they come after every sender.
        Some("from") => vec![SortKey::nulls_last(messages::Column::PubkeyPrefix), time],
        Some("message") => vec![SortKey::by(messages::Column::Text), time],
        _ => vec![time],
    }
}

/// Whether `sort` orders by time alone.
fn by_time(sort: Option<&str>) -> bool {
    sort_keys(sort).len() == 1
}

/// One page of the messages `role` may read that match `filter`, and the total.
pub(crate) async fn list(
    db: &DatabaseConnection,
    kept: &PastDays<i64>,
    role: Role,
    filter: &MessageFilter,
    sort: Option<&str>,
    order: Order,
    page: PageRequest,
) -> Result<(Vec<MessageRead>, u64), ApiError> {
    let visible = visible_channels(db, role).await?;
    let backend = db.get_database_backend();
    let column = messages::Column::ReceivedAt;
    let observer_ids = observer_ids(db, &filter.observed_by).await?;
    let select = |observers, in_time_order| {
        let condition = filter.condition(
            backend,
            &visible,
            observer_ids.as_deref(),
            observers,
            in_time_order,
        );
        messages::Entity::find().filter(condition)
    };
    let page_plan = match &observer_ids {
        Some(ids) if by_time(sort) => {
            let observed = observed_events(db, "message", ids);
            ObserverPlan::choose(db, "messages", page.rows(), observed).await?
        }
        _ => ObserverPlan::ByEvent,
    };
    // The total's edges span a day or two: walked in time order; its whole days, counted
    // once, through the observers' events.
    let (edges, long) = (
        select(ObserverPlan::InTimeOrder, true),
        select(ObserverPlan::ByEvent, false),
    );
    let total = Total::in_window(backend, edges, long, column, filter.window, Some(kept));
    fetch_counted_page(
        db,
        total,
        select(page_plan, by_time(sort)).filter(filter.window.condition(backend, column)),
        sort_keys(sort),
        messages::Column::Id,
        order,
        page,
        |rows| message_reads(db, rows),
    )
    .await
}

/// The message with this id if `role` may read it, else 404 `Message not found`.
pub(crate) async fn by_id(
    db: &DatabaseConnection,
    role: Role,
    id: &str,
) -> Result<MessageRead, ApiError> {
    let visible = visible_channels(db, role).await?;
    let message = messages::Entity::find_by_id(id.trim().to_string())
        .filter(visible_messages(&visible))
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("Message not found"))?;
    message_reads(db, vec![message])
        .await?
        .pop()
        .ok_or(ApiError::NotFound("Message not found"))
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
    let prefixes: Vec<String> = rows
        .iter()
        .filter_map(|m| m.pubkey_prefix.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Independent look-ups, each on a pooled connection of its own.
    let (observer_names, senders, mut observers) = tokio::try_join!(
        names_by_node_id(db, &observer_ids),
        senders_by_prefix(db, &prefixes),
        observers_by_event(db, "message", rows.iter().map(|r| &r.event_hash)),
    )?;

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
