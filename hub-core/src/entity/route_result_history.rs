//! `route_result_history`: A route's evaluation for one day.

use crate::time::Timestamp;
use sea_orm::entity::prelude::*;

/// A route's evaluation for one UTC day, unique per (route, day).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "route_result_history")]
pub struct Model {
    /// Primary key: a UUID4 in its 36-character text form.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `routes.id` of the route; the row is deleted with the route.
    pub route_id: String,
    /// The UTC calendar day the row covers.
    pub date: Date,
    /// The day's quality: `clear`, `marginal`, `failing` or `unknown`.
    pub quality: String,
    /// The day's state: `healthy`, `unhealthy` or `no_coverage`.
    pub state: String,
    /// Distinct matching packets in the day.
    pub matched_count: i32,
    /// When the day was last (re)evaluated (UTC).
    pub evaluated_at: Timestamp,
    /// When the row was inserted (UTC).
    pub created_at: Timestamp,
    /// When the row was last changed (UTC).
    pub updated_at: Timestamp,
}

/// None: queries join the tables explicitly (see the module docs of `entity`).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
