//! Batched look-ups that several route groups attach to their rows.
//!
//! Each takes the keys of one page of results and answers with one query (chunked below
//! SQLite's parameter limit), so a page costs a fixed number of round trips.

use hub_core::entity::{event_observers, node_tags, nodes, user_profile_nodes, user_profiles};
use hub_core::roles::{Role, visible_channel_indices};
use hub_core::time::rfc3339;
use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};
use std::collections::{BTreeSet, HashMap};

/// Most values bound in one `IN (...)` list; SQLite allows 32766, PostgreSQL 65535.
const CHUNK: usize = 500;

/// A tag of a node, as listed in `NodeRead.tags`.
#[derive(Debug, Clone, Object)]
pub struct NodeTagRead {
    /// Tag name, e.g. `name`, `role`.
    pub key: String,
    /// Tag value.
    #[oai(nullable)]
    pub value: Option<String>,
    /// Declared type of the value (`string` unless set otherwise).
    pub value_type: String,
    /// When the tag was created (RFC 3339, UTC).
    pub created_at: String,
    /// When the tag was last changed (RFC 3339, UTC).
    pub updated_at: String,
}

impl From<node_tags::Model> for NodeTagRead {
    fn from(tag: node_tags::Model) -> Self {
        NodeTagRead {
            key: tag.key,
            value: tag.value,
            value_type: tag.value_type,
            created_at: rfc3339(tag.created_at),
            updated_at: rfc3339(tag.updated_at),
        }
    }
}

/// The profile that adopted a node.
#[derive(Debug, Clone, Object)]
pub struct AdoptedBy {
    /// The profile's user id (from the identity provider).
    pub user_id: String,
    /// Display name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Radio callsign.
    #[oai(nullable)]
    pub callsign: Option<String>,
    /// The profile's id.
    pub profile_id: String,
}

/// Tags of each node id, in insertion order.
pub async fn tags_by_node(
    db: &DatabaseConnection,
    node_ids: &[String],
) -> Result<HashMap<String, Vec<NodeTagRead>>, DbErr> {
    let mut by_node: HashMap<String, Vec<NodeTagRead>> = HashMap::new();
    for chunk in node_ids.chunks(CHUNK) {
        let tags = node_tags::Entity::find()
            .filter(node_tags::Column::NodeId.is_in(chunk.iter().cloned()))
            .order_by_asc(node_tags::Column::CreatedAt)
            .order_by_asc(node_tags::Column::Id)
            .all(db)
            .await?;
        for tag in tags {
            by_node
                .entry(tag.node_id.clone())
                .or_default()
                .push(tag.into());
        }
    }
    Ok(by_node)
}

/// The adopting profile of each node id that has one.
pub async fn adopters_by_node(
    db: &DatabaseConnection,
    node_ids: &[String],
) -> Result<HashMap<String, AdoptedBy>, DbErr> {
    let mut by_node = HashMap::new();
    for chunk in node_ids.chunks(CHUNK) {
        let links = user_profile_nodes::Entity::find()
            .filter(user_profile_nodes::Column::NodeId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        let profiles: HashMap<String, user_profiles::Model> = user_profiles::Entity::find()
            .filter(
                user_profiles::Column::Id.is_in(links.iter().map(|l| l.user_profile_id.clone())),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        for link in links {
            if let Some(profile) = profiles.get(&link.user_profile_id) {
                by_node.insert(
                    link.node_id,
                    AdoptedBy {
                        user_id: profile.user_id.clone(),
                        name: profile.name.clone(),
                        callsign: profile.callsign.clone(),
                        profile_id: profile.id.clone(),
                    },
                );
            }
        }
    }
    Ok(by_node)
}

/// How adverts, messages and dashboards show a node: its key, advertised name and type, and
/// its `name` and `description` tags.
#[derive(Debug, Clone, Default)]
pub struct NodeNames {
    /// The node's public key.
    pub public_key: String,
    /// `nodes.name`.
    pub name: Option<String>,
    /// `nodes.adv_type`.
    pub adv_type: Option<String>,
    /// The node's `name` tag.
    pub tag_name: Option<String>,
    /// The node's `description` tag.
    pub tag_description: Option<String>,
}

/// Names of each node id.
pub async fn names_by_node_id(
    db: &DatabaseConnection,
    node_ids: &[String],
) -> Result<HashMap<String, NodeNames>, DbErr> {
    let mut by_id = HashMap::new();
    for chunk in node_ids.chunks(CHUNK) {
        let found = named_nodes(db, nodes::Column::Id.is_in(chunk.iter().cloned())).await?;
        by_id.extend(
            found
                .into_iter()
                .map(|node| (node.id.clone(), node.names())),
        );
    }
    Ok(by_id)
}

/// Names of the nodes with these ids or these public keys, keyed by node id: one statement
/// for both (for each few hundred of either).
pub async fn names_by_id_or_public_key(
    db: &DatabaseConnection,
    node_ids: &[String],
    public_keys: &[String],
) -> Result<HashMap<String, NodeNames>, DbErr> {
    let mut by_id = HashMap::new();
    let (mut ids, mut keys) = (node_ids.chunks(CHUNK), public_keys.chunks(CHUNK));
    loop {
        let (ids, keys) = match (ids.next(), keys.next()) {
            (None, None) => break,
            (ids, keys) => (ids.unwrap_or_default(), keys.unwrap_or_default()),
        };
        let either = sea_orm::Condition::any()
            .add(nodes::Column::Id.is_in(ids.iter().cloned()))
            .add(nodes::Column::PublicKey.is_in(keys.iter().cloned()));
        let found = named_nodes(db, either).await?;
        by_id.extend(
            found
                .into_iter()
                .map(|node| (node.id.clone(), node.names())),
        );
    }
    Ok(by_id)
}

/// Names of the nodes with these public keys, keyed by public key.
pub async fn names_by_public_key(
    db: &DatabaseConnection,
    public_keys: &[String],
) -> Result<HashMap<String, NodeNames>, DbErr> {
    let mut by_key = HashMap::new();
    for chunk in public_keys.chunks(CHUNK) {
        let found = named_nodes(db, nodes::Column::PublicKey.is_in(chunk.iter().cloned()));
        by_key.extend(
            found
                .await?
                .into_iter()
                .map(|node| (node.public_key.clone(), node.names())),
        );
    }
    Ok(by_key)
}

/// A node row with its `name` and `description` tags, as [`named_nodes`] reads it.
#[derive(Debug, Clone, FromQueryResult)]
struct NamedNode {
    id: String,
    public_key: String,
    name: Option<String>,
    adv_type: Option<String>,
    tag_name: Option<String>,
    tag_description: Option<String>,
}

impl NamedNode {
    fn names(self) -> NodeNames {
        NodeNames {
            public_key: self.public_key,
            name: self.name,
            adv_type: self.adv_type,
            tag_name: self.tag_name,
            tag_description: self.tag_description,
        }
    }
}

/// The nodes matching `condition` with their `name` and `description` tags, by public key:
/// one statement (a tag is unique per node and key), where reading the tags apart costs a
/// round trip more for every list page.
async fn named_nodes(
    db: &DatabaseConnection,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> Result<Vec<NamedNode>, DbErr> {
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::Expr;
    let tag = |key: &str| {
        Expr::cust(format!(
            "(SELECT t.value FROM node_tags t WHERE t.node_id = nodes.id AND t.key = '{key}')"
        ))
    };
    nodes::Entity::find()
        .select_only()
        .columns([
            nodes::Column::Id,
            nodes::Column::PublicKey,
            nodes::Column::Name,
            nodes::Column::AdvType,
        ])
        .column_as(tag("name"), "tag_name")
        .column_as(tag("description"), "tag_description")
        .filter(condition)
        .order_by_asc(nodes::Column::PublicKey)
        .into_model::<NamedNode>()
        .all(db)
        .await
}

/// One observer's reception of an event, as listed in `observers`.
#[derive(Debug, Clone, Object)]
pub struct ObserverRead {
    /// The observer's node id.
    pub node_id: String,
    /// The observer's public key.
    #[oai(nullable)]
    pub public_key: Option<String>,
    /// The observer's advertised name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The observer's `name` tag.
    #[oai(nullable)]
    pub tag_name: Option<String>,
    /// Signal-to-noise ratio of the reception.
    #[oai(nullable)]
    pub snr: Option<f64>,
    /// Hops the packet had taken.
    #[oai(nullable)]
    pub path_len: Option<i32>,
    /// When this observer heard it (RFC 3339, UTC).
    pub observed_at: String,
}

/// `event_observers` rows of `event_type` for each of the (possibly repeated, possibly
/// absent) event hashes of a page of rows, oldest first.
pub async fn observers_by_event<'a>(
    db: &DatabaseConnection,
    event_type: &str,
    event_hashes: impl IntoIterator<Item = &'a Option<String>>,
) -> Result<HashMap<String, Vec<ObserverRead>>, DbErr> {
    let event_hashes: Vec<String> = event_hashes
        .into_iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut rows = Vec::new();
    for chunk in event_hashes.chunks(CHUNK) {
        rows.extend(
            event_observers::Entity::find()
                .filter(event_observers::Column::EventType.eq(event_type))
                .filter(event_observers::Column::EventHash.is_in(chunk.iter().cloned()))
                .order_by_asc(event_observers::Column::ObservedAt)
                .order_by_asc(event_observers::Column::Id)
                .all(db)
                .await?,
        );
    }
    let observer_ids: Vec<String> = rows
        .iter()
        .map(|r| r.observer_node_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names = names_by_node_id(db, &observer_ids).await?;
    let mut by_hash: HashMap<String, Vec<ObserverRead>> = HashMap::new();
    for row in rows {
        let node = names.get(&row.observer_node_id);
        by_hash
            .entry(row.event_hash)
            .or_default()
            .push(ObserverRead {
                public_key: node.map(|n| n.public_key.clone()),
                name: node.and_then(|n| n.name.clone()),
                tag_name: node.and_then(|n| n.tag_name.clone()),
                node_id: row.observer_node_id,
                snr: row.snr,
                path_len: row.path_len,
                observed_at: rfc3339(row.observed_at),
            });
    }
    Ok(by_hash)
}

/// Channel indices `role` may read: every channel at or below its level, plus Public (17).
pub async fn visible_channels(db: &DatabaseConnection, role: Role) -> Result<BTreeSet<i32>, DbErr> {
    use hub_core::entity::channels;
    let channels = channels::Entity::find().all(db).await?;
    Ok(visible_channel_indices(
        role,
        channels
            .iter()
            .map(|c| (c.channel_hash.as_str(), c.visibility.as_str())),
    ))
}

/// The sender of each message `pubkey_prefix`: the node with the lowest public key that starts
/// with the prefix (compared lowercase), with its names. Prefixes no node matches, and blank
/// ones (which would match every node), are absent from the map.
///
/// Keys are the prefixes as given, so callers look rows up by their stored value.
pub async fn senders_by_prefix(
    db: &DatabaseConnection,
    prefixes: &[String],
) -> Result<HashMap<String, NodeNames>, DbErr> {
    use crate::query::filters::hex_prefix;
    use sea_orm::Condition;

    let wanted: BTreeSet<String> = prefixes
        .iter()
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    let wanted: Vec<String> = wanted.into_iter().collect();
    // Lowercase prefix -> the first node (by public key) that starts with it.
    let mut first: HashMap<String, NodeNames> = HashMap::new();
    for chunk in wanted.chunks(CHUNK) {
        let any_prefix = chunk.iter().fold(Condition::any(), |cond, prefix| {
            cond.add(hex_prefix(
                db.get_database_backend(),
                "nodes.public_key",
                prefix,
            ))
        });
        let matches = named_nodes(db, any_prefix).await?;
        for prefix in chunk {
            let sender = matches.iter().find(|n| {
                n.public_key
                    .to_ascii_lowercase()
                    .starts_with(prefix.as_str())
            });
            if let Some(node) = sender {
                first.insert(prefix.clone(), node.clone().names());
            }
        }
    }
    Ok(prefixes
        .iter()
        .filter_map(|prefix| {
            let names = first.get(&prefix.trim().to_ascii_lowercase())?;
            Some((prefix.clone(), names.clone()))
        })
        .collect())
}

/// Names of the observer node ids in `observer_ids` (absent ones skipped), keyed by node id.
pub async fn observer_names<'a>(
    db: &DatabaseConnection,
    observer_ids: impl Iterator<Item = &'a Option<String>>,
) -> Result<HashMap<String, NodeNames>, DbErr> {
    let ids: Vec<String> = observer_ids
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names_by_node_id(db, &ids).await
}

/// The profile of each user id that has one, in the `{user_id, name, callsign, profile_id}`
/// shape (a route's `owner`).
pub async fn profiles_by_user_id(
    db: &DatabaseConnection,
    user_ids: &[String],
) -> Result<HashMap<String, AdoptedBy>, DbErr> {
    let mut by_user = HashMap::new();
    for chunk in user_ids.chunks(CHUNK) {
        for profile in user_profiles::Entity::find()
            .filter(user_profiles::Column::UserId.is_in(chunk.iter().cloned()))
            .order_by_asc(user_profiles::Column::CreatedAt)
            .order_by_asc(user_profiles::Column::Id)
            .all(db)
            .await?
        {
            // Should a database hold two profiles for one user, the first created wins.
            by_user
                .entry(profile.user_id.clone())
                .or_insert_with(|| AdoptedBy {
                    user_id: profile.user_id,
                    name: profile.name,
                    callsign: profile.callsign,
                    profile_id: profile.id,
                });
        }
    }
    Ok(by_user)
}
