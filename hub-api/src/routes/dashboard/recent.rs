//! `GET /api/v1/dashboard/recent-activity`.

use crate::error::ApiError;
use crate::query::filters::flood_only_newest_first;
use crate::query::lookups::{
    ObserverRead, names_by_node_id, names_by_public_key, observers_by_event, senders_by_prefix,
    visible_channels,
};
use hub_core::entity::{advertisements, messages};
use hub_core::roles::Role;
use hub_core::time::rfc3339;
use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, BTreeSet};

/// Flood-only advertisements listed.
const RECENT_ADVERTS: u64 = 10;
/// Messages listed per channel.
const MESSAGES_PER_CHANNEL: u64 = 5;

/// A recent advertisement.
#[derive(Debug, Clone, Object)]
pub struct RecentAdvertisement {
    /// The advertised public key.
    pub public_key: String,
    /// The advert's name, else the node's.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The node's `name` tag.
    #[oai(nullable)]
    pub tag_name: Option<String>,
    /// The advert's type, else the node's.
    #[oai(nullable)]
    pub adv_type: Option<String>,
    /// When it was received (RFC 3339, UTC).
    pub received_at: String,
    /// `flood`, `transport_flood` or null.
    #[oai(nullable)]
    pub route_type: Option<String>,
    /// Every observer that heard it, oldest first.
    pub observers: Vec<ObserverRead>,
    /// Public key of the observer that stored it.
    #[oai(nullable)]
    pub observed_by: Option<String>,
}

/// A recent channel message.
#[derive(Debug, Clone, Object)]
pub struct ChannelMessage {
    /// Message text.
    pub text: String,
    /// Name of the node whose public key starts with `pubkey_prefix`.
    #[oai(nullable)]
    pub sender_name: Option<String>,
    /// That node's `name` tag.
    #[oai(nullable)]
    pub sender_tag_name: Option<String>,
    /// Sender public key prefix (12 hex chars).
    #[oai(nullable)]
    pub pubkey_prefix: Option<String>,
    /// When it was received (RFC 3339, UTC).
    pub received_at: String,
}

/// Recent advertisements and channel messages.
#[derive(Debug, Clone, Object)]
pub struct RecentActivity {
    /// The last 10 flood-only advertisements, newest first.
    pub recent_advertisements: Vec<RecentAdvertisement>,
    /// The last 5 messages (newest first) of each readable channel that has any, keyed by
    /// channel index (string keys).
    pub channel_messages: BTreeMap<i32, Vec<ChannelMessage>>,
}

/// Recent activity as `role` may see it.
pub(super) async fn recent_activity(
    db: &DatabaseConnection,
    role: Role,
) -> Result<RecentActivity, ApiError> {
    Ok(RecentActivity {
        recent_advertisements: recent_adverts(db).await?,
        channel_messages: channel_messages(db, role).await?,
    })
}

/// The last flood-only adverts with node names and observers.
async fn recent_adverts(db: &DatabaseConnection) -> Result<Vec<RecentAdvertisement>, DbErr> {
    let adverts = advertisements::Entity::find()
        .filter(flood_only_newest_first(db.get_database_backend()))
        .order_by_desc(advertisements::Column::ReceivedAt)
        .order_by_desc(advertisements::Column::Id)
        .limit(RECENT_ADVERTS)
        .all(db)
        .await?;

    let keys: Vec<String> = adverts
        .iter()
        .map(|a| a.public_key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let advertised = names_by_public_key(db, &keys).await?;
    let mut observers =
        observers_by_event(db, "advertisement", adverts.iter().map(|r| &r.event_hash)).await?;
    let observer_ids: Vec<String> = adverts
        .iter()
        .filter_map(|a| a.observer_node_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let observer_names = names_by_node_id(db, &observer_ids).await?;

    Ok(adverts
        .into_iter()
        .map(|ad| {
            let node = advertised.get(&ad.public_key);
            RecentAdvertisement {
                name: ad.name.or_else(|| node.and_then(|n| n.name.clone())),
                tag_name: node.and_then(|n| n.tag_name.clone()),
                adv_type: ad
                    .adv_type
                    .or_else(|| node.and_then(|n| n.adv_type.clone())),
                received_at: rfc3339(ad.received_at),
                route_type: ad.route_type,
                // event_hash is unique among adverts, so each list is taken once.
                observers: ad
                    .event_hash
                    .as_ref()
                    .and_then(|h| observers.remove(h))
                    .unwrap_or_default(),
                observed_by: ad
                    .observer_node_id
                    .as_ref()
                    .and_then(|id| observer_names.get(id))
                    .map(|n| n.public_key.clone()),
                public_key: ad.public_key,
            }
        })
        .collect())
}

/// The last messages of each channel `role` may read that has messages.
async fn channel_messages(
    db: &DatabaseConnection,
    role: Role,
) -> Result<BTreeMap<i32, Vec<ChannelMessage>>, DbErr> {
    // One small query per visible channel: each is an index look-up on channel_idx limited
    // to a few rows, and the visible set is bounded by the channels table (plus 17).
    let mut per_channel = BTreeMap::new();
    for idx in visible_channels(db, role).await? {
        let rows = messages::Entity::find()
            .filter(messages::Column::MessageType.eq("channel"))
            .filter(messages::Column::ChannelIdx.eq(idx))
            .order_by_desc(messages::Column::ReceivedAt)
            .order_by_desc(messages::Column::Id)
            .limit(MESSAGES_PER_CHANNEL)
            .all(db)
            .await?;
        if !rows.is_empty() {
            per_channel.insert(idx, rows);
        }
    }

    let prefixes: Vec<String> = per_channel
        .values()
        .flatten()
        .filter_map(|m| m.pubkey_prefix.as_deref())
        .map(|p| p.trim().to_ascii_lowercase())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let senders = senders_by_prefix(db, &prefixes).await?;

    Ok(per_channel
        .into_iter()
        .map(|(idx, rows)| {
            let list = rows
                .into_iter()
                .map(|m| {
                    let sender = m
                        .pubkey_prefix
                        .as_deref()
                        .and_then(|p| senders.get(&p.trim().to_ascii_lowercase()));
                    ChannelMessage {
                        text: m.text,
                        sender_name: sender.and_then(|s| s.name.clone()),
                        sender_tag_name: sender.and_then(|s| s.tag_name.clone()),
                        pubkey_prefix: m.pubkey_prefix,
                        received_at: rfc3339(m.received_at),
                    }
                })
                .collect();
            (idx, list)
        })
        .collect())
}
