//! `/api/v1/dashboard/*`: aggregates for the web dashboard (docs/contract/api.md section 2, Dashboard).
//!
//! The handlers here only read parameters and the caller; each endpoint's queries live in a
//! submodule. Every count is an aggregate query bounded by an indexed column (`received_at`,
//! `channel_idx`, `created_at`), never a load of rows, so the endpoints stay fast on large
//! databases.

mod recent;
mod routes_overview;
mod series;
mod stats;

pub use recent::{ChannelMessage, RecentActivity, RecentAdvertisement};
pub use routes_overview::{RouteOverviewEntry, RoutesOverview};
pub use series::{DailyPoint, DailySeries, PacketBreakdown};
pub use stats::DashboardStats;

use crate::caller::{Caller, role_key};
use crate::query::day_counts::midnight;
use crate::query::filters::{flood_only, visible_messages};
use crate::responses::{ListErrors, ReadErrors, Reply};
use crate::routes::ApiTags;
use crate::state::AppState;
use chrono::{NaiveDate, NaiveDateTime};
use hub_macros::{cached, cached_api};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::sync::Arc;

/// Largest `days` any dashboard window accepts; larger values are clamped to it.
pub const MAX_DAYS: i64 = 90;

/// A label with a count, as the breakdowns list them.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct LabelCount {
    /// Bucket label, e.g. an event type, `1b`, or a route state.
    pub label: String,
    /// Rows in the bucket.
    pub count: i64,
}

/// Dashboard endpoints.
pub struct DashboardApi;

fn default_days_30() -> i64 {
    30
}

fn default_days_7() -> i64 {
    7
}

#[cached_api]
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dashboard")]
impl DashboardApi {
    /// Dashboard statistics
    ///
    /// Counts of nodes, messages, advertisements, member profiles and raw packets.
    /// `messages_7d` and `channel_message_counts` only count messages the caller may read;
    /// advertisement counts are flood-only (route_type flood, transport_flood or NULL).
    #[oai(path = "/dashboard/stats", method = "get")]
    #[cached(name = "dashboard/stats", ttl = dashboard, key = role_key, reads = [nodes, advertisements, messages, raw_packets, channels, user_profiles])]
    async fn stats(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
    ) -> Reply<Json<DashboardStats>, ReadErrors> {
        Ok(Json(
            stats::stats(&state.db, &state.dashboard_days, &state.roles, caller.role).await?,
        ))
    }

    /// Recent activity
    ///
    /// The last 10 flood-only advertisements with their observers, and the last 5 messages
    /// of each channel the caller may read that has messages (keyed by channel index).
    #[oai(path = "/dashboard/recent-activity", method = "get")]
    #[cached(name = "dashboard/recent-activity", key = role_key, reads = [advertisements, messages, channels, nodes, node_tags, event_observers])]
    async fn recent_activity(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
    ) -> Reply<Json<RecentActivity>, ReadErrors> {
        Ok(Json(recent::recent_activity(&state.db, caller.role).await?))
    }

    /// Daily advertisement activity
    ///
    /// Flood-only advertisements per UTC day, one zero-filled entry per day from today-`days`
    /// to yesterday (today is excluded because it is incomplete), oldest first.
    #[oai(path = "/dashboard/activity", method = "get")]
    #[cached(name = "dashboard/activity", ttl = dashboard, reads = [advertisements])]
    async fn activity(
        &self,
        state: Data<&Arc<AppState>>,
        /// Days to include: clamped to 90; 0 or less gives no entries. Echoed as clamped.
        #[oai(default = "default_days_30")]
        days: Query<i64>,
    ) -> Reply<Json<DailySeries>, ListErrors> {
        Ok(Json(
            series::advert_activity(&state.db, &state.dashboard_days, days.0).await?,
        ))
    }

    /// Daily raw packet activity
    ///
    /// Raw packets per UTC day, shaped like `activity`.
    #[oai(path = "/dashboard/packet-activity", method = "get")]
    #[cached(name = "dashboard/packet-activity", ttl = dashboard, reads = [raw_packets])]
    async fn packet_activity(
        &self,
        state: Data<&Arc<AppState>>,
        /// Days to include: clamped to 90; 0 or less gives no entries. Echoed as clamped.
        #[oai(default = "default_days_30")]
        days: Query<i64>,
    ) -> Reply<Json<DailySeries>, ListErrors> {
        Ok(Json(
            series::packet_activity(&state.db, &state.dashboard_days, days.0).await?,
        ))
    }

    /// Daily message activity
    ///
    /// Messages the caller may read per UTC day, shaped like `activity`.
    #[oai(path = "/dashboard/message-activity", method = "get")]
    #[cached(name = "dashboard/message-activity", ttl = dashboard, key = role_key, reads = [messages, channels])]
    async fn message_activity(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        /// Days to include: clamped to 90; 0 or less gives no entries. Echoed as clamped.
        #[oai(default = "default_days_30")]
        days: Query<i64>,
    ) -> Reply<Json<DailySeries>, ListErrors> {
        Ok(Json(
            series::message_activity(&state.db, &state.dashboard_days, caller.role, days.0).await?,
        ))
    }

    /// Node count history
    ///
    /// Cumulative count of nodes by `created_at` at the end of each UTC day, shaped like
    /// `activity`: nodes created before the window plus a running total.
    #[oai(path = "/dashboard/node-count", method = "get")]
    #[cached(name = "dashboard/node-count", ttl = dashboard, reads = [nodes])]
    async fn node_count(
        &self,
        state: Data<&Arc<AppState>>,
        /// Days to include: clamped to 90; 0 or less gives no entries. Echoed as clamped.
        #[oai(default = "default_days_30")]
        days: Query<i64>,
    ) -> Reply<Json<DailySeries>, ListErrors> {
        Ok(Json(series::node_count(&state.db, days.0).await?))
    }

    /// Raw packet breakdown
    ///
    /// Raw packets from today-`days` to yesterday by event type (top 6 by count, the rest
    /// summed as `other`, NULL as `unknown`) and by path hash width (`1b`, `2b`, `3b`).
    #[oai(path = "/dashboard/packet-breakdown", method = "get")]
    #[cached(name = "dashboard/packet-breakdown", ttl = dashboard, reads = [raw_packets])]
    async fn packet_breakdown(
        &self,
        state: Data<&Arc<AppState>>,
        /// Days to include: clamped to 90; 0 or less counts nothing. Echoed as clamped.
        #[oai(default = "default_days_7")]
        days: Query<i64>,
    ) -> Reply<Json<PacketBreakdown>, ListErrors> {
        Ok(Json(
            series::packet_breakdown(&state.db, &state.dashboard_days, days.0).await?,
        ))
    }

    /// Routes overview
    ///
    /// Community routes ordered by `from_label`, each with its current state and a
    /// `days`+1 entry daily history (today last), plus route counts by state.
    #[oai(path = "/dashboard/routes-overview", method = "get")]
    #[cached(name = "dashboard/routes-overview", ttl = dashboard, reads = [routes, route_results, route_result_history])]
    async fn routes_overview(
        &self,
        state: Data<&Arc<AppState>>,
        /// History days: clamped to 90 and to RAW_PACKET_RETENTION_DAYS; 0 or less gives
        /// today only. Echoed as clamped.
        #[oai(default = "default_days_7")]
        days: Query<i64>,
    ) -> Reply<Json<RoutesOverview>, ListErrors> {
        let days = days
            .0
            .clamp(0, MAX_DAYS.min(state.raw_packet_retention_days.max(0)));
        Ok(Json(
            routes_overview::routes_overview(&state.db, days, today()).await?,
        ))
    }
}

/// Reads the past days the dashboard's default requests keep (`stats`, the three activity
/// series and `packet-breakdown` with their default `days`, as an anonymous caller would ask),
/// so that the first dashboard after a start does not pay for them (`stats` alone counts all
/// 60 days: most of a second on a large network).
/// [`read_kept_values`](crate::server::read_kept_values) runs it when `serve` starts; what it
/// keeps is what those requests would have kept, so no response changes.
///
/// ```no_run
/// # async fn start(state: hub_api::state::AppState) {
/// tokio::spawn(async move { hub_api::routes::dashboard::read_past_days(&state).await });
/// # }
/// ```
pub async fn read_past_days(state: &AppState) -> Result<(), crate::error::ApiError> {
    let (db, kept, role) = (
        &state.db,
        &state.dashboard_days,
        hub_core::roles::Role::Anonymous,
    );
    stats::stats(db, kept, &state.roles, role).await?;
    series::advert_activity(db, kept, default_days_30()).await?;
    series::packet_activity(db, kept, default_days_30()).await?;
    series::message_activity(db, kept, role, default_days_30()).await?;
    series::packet_breakdown(db, kept, default_days_7()).await?;
    Ok(())
}

/// Today's UTC date.
fn today() -> NaiveDate {
    hub_core::time::now().date()
}

/// The day window of a series: `days` clamped to 0..=90, its first day, and the days in order.
///
/// Today is excluded: the window is `[today - days, today)`, so it has exactly `days` days.
#[derive(Debug, Clone)]
struct DayWindow {
    /// The effective (clamped) number of days, echoed in responses.
    days: i64,
    /// Midnight starting the first day.
    start: NaiveDateTime,
    /// Midnight starting today: the exclusive end.
    end: NaiveDateTime,
    /// Every day of the window, oldest first.
    dates: Vec<NaiveDate>,
}

impl DayWindow {
    /// The window of `days` days ending before `today`.
    fn new(days: i64, today: NaiveDate) -> DayWindow {
        let days = days.clamp(0, MAX_DAYS);
        let first = today - chrono::Duration::days(days);
        DayWindow {
            days,
            start: midnight(first),
            end: midnight(today),
            dates: (0..days)
                .map(|i| first + chrono::Duration::days(i))
                .collect(),
        }
    }

    /// The days from `first` to `last`, both included.
    fn span(first: NaiveDate, last: NaiveDate) -> DayWindow {
        let next = last + chrono::Duration::days(1);
        DayWindow::new((next - first).num_days(), next)
    }
}
