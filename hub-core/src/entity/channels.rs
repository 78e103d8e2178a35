//! `channels`: A group channel with its key and visibility level.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A group channel: its secret key and who may read its messages.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The channel's display name, unique.
    pub name: String,
    /// The channel's secret key as uppercase hex (32 or 64 characters: AES-128 or AES-256), unique.
    pub key_hex: String,
    /// The first byte of SHA-256 over the key bytes, 2 uppercase hex characters; matches
    /// `channel_idx` of its messages.
    pub channel_hash: String,
    /// The lowest role that may read the channel: `community`, `member`, `operator` or `admin`.
    pub visibility: String,
    /// Whether the channel is active; channel visibility does not look at it.
    pub enabled: bool,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
