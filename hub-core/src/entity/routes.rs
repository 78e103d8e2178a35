//! `routes`: A monitored route between two sites.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A monitored route: an ordered sequence of nodes that packets should be heard crossing.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "routes")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The label of the route's start, up to 255 characters; unique with `to_label`.
    pub from_label: String,
    /// The label of the route's end, up to 255 characters.
    pub to_label: String,
    /// A free-text description.
    pub description: Option<String>,
    /// The lowest role that may see the route: `community`, `member`, `operator` or `admin`.
    pub visibility: String,
    /// Bytes of each node's public key compared with a hop hash: 1, 2 or 3.
    pub match_width: i32,
    /// How far back evaluation looks for matching packets, in hours (1..720).
    pub window_hours: i32,
    /// Distinct matching packets needed in the window for the route to be healthy.
    pub packet_count_threshold: i32,
    /// Distinct matching packets for `clear` rather than `marginal`; NULL or 0 means 3 x the
    /// threshold.
    pub clear_threshold: Option<i32>,
    /// Most hops allowed between the first and last matched node; NULL means unlimited.
    pub max_hop_span: Option<i32>,
    /// Whether the route is evaluated.
    pub enabled: bool,
    /// Whether packets crossing the nodes in reverse order also match.
    pub reversible: bool,
    /// Longest packet path (in hops) that may match; NULL means any.
    pub max_path_length: Option<i32>,
    /// The creator's OIDC subject (`X-User-Id`); NULL for routes made before owners were recorded
    /// (admin-only).
    pub created_by: Option<String>,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
