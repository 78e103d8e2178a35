//! `advertisements`: An advertisement heard by an observer.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// One advertisement of a node, deduplicated across observers by `event_hash`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "advertisements")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the observer (receiving interface) that heard it; NULL once that node is
    /// deleted.
    pub observer_node_id: Option<String>,
    /// `nodes.id` of the advertised node; NULL once that node is deleted.
    pub node_id: Option<String>,
    /// The advertised public key: 64 lowercase hex characters.
    pub public_key: String,
    /// The advertised name.
    pub name: Option<String>,
    /// The advertised node type: `chat`, `repeater`, `room` or `none`.
    pub adv_type: Option<String>,
    /// The advertised capability flags, a bitmask.
    pub flags: Option<i32>,
    /// When the observer received it (UTC, the collector's clock).
    pub received_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// 32-character hash MeshCore Hub computes to recognise the same event heard by several
    /// observers; the key into `event_observers`.
    pub event_hash: Option<String>,
    /// How the advert travelled: `flood`, `transport_flood`, `direct` or `transport_direct`.
    pub route_type: Option<String>,
    /// The node's own clock in the advert payload (UTC), stored even when it is skewed.
    pub advert_timestamp: Option<Timestamp>,
    /// LetsMesh's packet hash (up to 32 characters): links the row to the receptions of its packet
    /// in `raw_packets`.
    pub packet_hash: Option<String>,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
