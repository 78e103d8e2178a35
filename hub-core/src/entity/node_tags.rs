//! `node_tags`: A key/value tag on a node (`name`, `role`, `description`, ...).

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A key/value tag on a node, unique per (node, key).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_tags")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `nodes.id` of the tagged node; the tag is deleted with the node.
    pub node_id: String,
    /// The tag's key, up to 100 characters (`name`, `description`, `role`, `area` have meaning to
    /// the dashboard).
    #[sea_orm(column_name = "key")]
    pub key: String,
    /// The tag's value as text; NULL for a tag without one.
    pub value: Option<String>,
    /// How to read `value`: `string` (the default), `number` or `boolean`.
    pub value_type: String,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
