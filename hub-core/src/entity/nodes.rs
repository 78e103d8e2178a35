//! `nodes`: Node in the mesh, keyed by its public key.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A node of the mesh as MeshCore Hub last heard it advertise.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The node's public key: 64 lowercase hex characters, unique.
    pub public_key: String,
    /// The name the node last advertised.
    pub name: Option<String>,
    /// The advertised node type: `chat`, `repeater`, `room` or `none`.
    pub adv_type: Option<String>,
    /// The advertised capability flags, a bitmask.
    pub flags: Option<i32>,
    /// When the node was first heard (UTC).
    pub first_seen: Timestamp,
    /// When the node was last heard (UTC); NULL until it is.
    pub last_seen: Option<Timestamp>,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
    /// Advertised latitude in decimal degrees, when the node reports one.
    pub lat: Option<f64>,
    /// Advertised longitude in decimal degrees, when the node reports one.
    pub lon: Option<f64>,
    /// Whether the node has observed an event, i.e. it is a receiving interface that feeds the
    /// collector.
    pub is_observer: bool,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
