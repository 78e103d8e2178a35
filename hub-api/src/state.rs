//! State shared by every handler.

use crate::query::group_hours::GroupHours;
use crate::query::past_days::{DashboardDays, PastDays};
use hub_core::cache::runtime::ResponseCache;
use hub_core::settings::{
    AuthSettings, DEFAULT_KEPT_COUNTS_RENEW_AFTER, DEFAULT_RAW_PACKET_RETENTION_DAYS, FeedSettings,
    RoleNameSettings, SpamSettings,
};
use sea_orm::DatabaseConnection;
use std::time::Duration;

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
    pub packet_group_hours: GroupHours,
    /// The RSS and Atom feeds: on or off, link origin, title.
    pub feeds: FeedSettings,
}

impl AppState {
    /// The state of a server over `db` and `cache` with every setting at its default, as
    /// `serve` starts without configuration, and nothing kept yet (kept values are read on
    /// first use, missing packet-group hours in the background). Set other fields with
    /// struct update syntax, except `cache`: kept counts check the table versions of the cache
    /// they were made with, so another cache goes through [`with_cache`](Self::with_cache).
    ///
    /// ```
    /// # async fn build(db: sea_orm::DatabaseConnection) {
    /// use hub_api::state::AppState;
    /// use hub_core::cache::{NullCache, runtime::ResponseCache};
    /// use std::{sync::Arc, time::Duration};
    /// let ttl = Duration::from_secs(30);
    /// let state = AppState {
    ///     raw_packet_retention_days: 30,
    ///     ..AppState::new(db, ResponseCache::new(Arc::new(NullCache), ttl, ttl))
    /// };
    /// # }
    /// ```
    pub fn new(db: DatabaseConnection, cache: ResponseCache) -> Self {
        AppState {
            db,
            auth: AuthSettings::default(),
            raw_packet_retention_days: DEFAULT_RAW_PACKET_RETENTION_DAYS,
            spam: SpamSettings::default(),
            roles: RoleNameSettings::default(),
            cache,
            dashboard_days: DashboardDays::default(),
            list_days: PastDays::default(),
            packet_group_hours: GroupHours::default(),
            feeds: FeedSettings::default(),
        }
        // The kept stores are made once, here, checked against this cache's versions.
        .with_kept_counts_renew_after(Duration::from_secs(DEFAULT_KEPT_COUNTS_RENEW_AFTER))
    }

    /// The same state answering through `cache`, with nothing kept: its kept counts are made
    /// anew to check `cache`'s table versions, configured as before.
    ///
    /// ```
    /// # async fn build(db: sea_orm::DatabaseConnection, redis: hub_core::cache::runtime::ResponseCache) {
    /// use hub_api::state::AppState;
    /// use hub_core::cache::{NullCache, runtime::ResponseCache};
    /// use std::{sync::Arc, time::Duration};
    /// let ttl = Duration::from_secs(30);
    /// let state = AppState::new(db, ResponseCache::new(Arc::new(NullCache), ttl, ttl)).with_cache(redis);
    /// # }
    /// ```
    pub fn with_cache(self, cache: ResponseCache) -> Self {
        let versions = cache.versions();
        AppState {
            dashboard_days: self.dashboard_days.emptied_for(versions),
            list_days: self.list_days.emptied_for(versions),
            packet_group_hours: self.packet_group_hours.emptied_for(versions),
            cache,
            ..self
        }
    }

    /// The same state with nothing kept, whose kept counts are read again in the background
    /// from `renew_after` on even when no change of their tables was seen
    /// (`KEPT_COUNTS_RENEW_AFTER`; zero: never by age).
    pub fn with_kept_counts_renew_after(self, renew_after: Duration) -> Self {
        let versions = self.cache.versions().clone();
        AppState {
            dashboard_days: DashboardDays::new(&versions, renew_after),
            list_days: PastDays::new(versions.clone(), renew_after),
            packet_group_hours: GroupHours::new(versions, renew_after).filled_in_background(),
            ..self
        }
    }
}
