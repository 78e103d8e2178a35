//! `route_results`: The latest evaluation of a route.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// The latest evaluation of a route (at most one row per route).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_results")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `routes.id` of the route (unique); the row is deleted with the route.
    pub route_id: String,
    /// The alerting axis: `healthy`, `unhealthy` or `no_coverage`.
    pub state: String,
    /// The display axis: `clear`, `marginal`, `failing` or `unknown`.
    pub quality: String,
    /// Distinct matching packets in the window (a lower bound when counting stopped early).
    pub matched_count: i32,
    /// The route's `packet_count_threshold` when it was evaluated.
    pub threshold: i32,
    /// The clear bar used when it was evaluated (`clear_threshold`, or 3 x the threshold).
    pub effective_clear: i32,
    /// When the evaluation ran (UTC).
    pub evaluated_at: Timestamp,
    /// The quality averaged over the last 7 days and today: `clear`, `marginal` or `failing`; NULL
    /// until known.
    pub quality_avg: Option<String>,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
