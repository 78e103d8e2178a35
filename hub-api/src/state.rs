//! State shared by every handler.

use crate::query::past_days::{DashboardDays, PastDays};
use hub_core::cache::runtime::ResponseCache;
use hub_core::settings::{AuthSettings, FeedSettings, RoleNameSettings, SpamSettings};
use sea_orm::DatabaseConnection;

/// What handlers need besides the request: the database and a few settings.
#[derive(Clone)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// API keys, for the admin checks that handlers make themselves.
    pub auth: AuthSettings,
    /// RAW_PACKET_RETENTION_DAYS: bounds the `routes-overview` window.
    pub raw_packet_retention_days: i64,
    /// Spam filtering of message lists.
    pub spam: SpamSettings,
    /// OIDC_ROLE_*: the role names the dashboard counts and the profile list read.
    pub roles: RoleNameSettings,
    /// The response cache (Redis, or the null cache when Redis is disabled).
    pub cache: ResponseCache,
    /// Per-day dashboard aggregates of past days, computed once and kept.
    pub dashboard_days: DashboardDays,
    /// Per-day row counts of list totals over past days, computed once and kept.
    pub list_days: PastDays<i64>,
    /// Per-hour packet group counts of past hours, computed once and kept.
    pub packet_group_hours: crate::query::group_hours::GroupHours,
    /// The RSS and Atom feeds: on or off, link origin, title.
    pub feeds: FeedSettings,
}
