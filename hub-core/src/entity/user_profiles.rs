//! `user_profiles`: A member profile; `roles` is a comma list.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A member's profile, created on first use for an OIDC identity.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "user_profiles")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The OIDC subject (`sub` claim, sent as `X-User-Id`), unique.
    pub user_id: String,
    /// The display name the member chose.
    pub name: Option<String>,
    /// The member's amateur radio callsign, up to 20 characters.
    pub callsign: Option<String>,
    /// The caller's `X-User-Roles` as sent with its latest write, comma-separated (e.g.
    /// `member,operator`).
    pub roles: Option<String>,
    /// A free-text description the member wrote.
    pub description: Option<String>,
    /// A link the member gave, up to 2048 characters.
    pub url: Option<String>,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
