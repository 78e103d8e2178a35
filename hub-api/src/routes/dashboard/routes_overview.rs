//! `GET /api/v1/dashboard/routes-overview`: health of the community routes.
//!
//! The latest results and daily history come from [`crate::query::route_history`], shared
//! with the route history endpoint.

use super::LabelCount;
use crate::error::ApiError;
use crate::query::route_history::{
    NO_COVERAGE, RouteDay, daily_series, history_rows, label_or, latest_results,
};
use chrono::NaiveDate;
use hub_core::entity::routes;
use poem_openapi::Object;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;

/// The only route visibility the dashboard shows, whatever the caller's role.
const COMMUNITY: &str = "community";
/// State and quality of a switched-off route.
const DISABLED: &str = "disabled";
/// `by_state` lists these first, in this order; other states follow alphabetically.
const STATE_ORDER: [&str; 4] = ["healthy", "unhealthy", NO_COVERAGE, DISABLED];

/// A community route and its health.
#[derive(Debug, Clone, Object)]
pub struct RouteOverviewEntry {
    /// The route id.
    pub id: String,
    /// Label of the site the route starts at.
    pub from_label: String,
    /// Label of the site the route ends at.
    pub to_label: String,
    /// Always `community`.
    pub visibility: String,
    /// Whether the route is evaluated.
    pub enabled: bool,
    /// Current state; `disabled` for a disabled route, `no_coverage` when not evaluated.
    pub state: String,
    /// Current quality; `disabled` for a disabled route, `no_coverage` when not evaluated.
    pub quality: String,
    /// Matching packets in the current evaluation; null when disabled or not evaluated.
    #[oai(nullable)]
    pub matched_count: Option<i64>,
    /// `days` entries from today-`days` to yesterday, then today's.
    pub history: Vec<RouteDay>,
}

/// Health of the community routes.
#[derive(Debug, Clone, Object)]
pub struct RoutesOverview {
    /// History days, after clamping to 90 and to RAW_PACKET_RETENTION_DAYS.
    pub days: i64,
    /// Routes per current state: healthy, unhealthy, no_coverage, disabled, then other
    /// states alphabetically; states without routes are omitted.
    pub by_state: Vec<LabelCount>,
    /// Community routes ordered by `from_label`.
    pub routes: Vec<RouteOverviewEntry>,
}

/// The overview with `days` (already clamped, >= 0) days of history before `today`.
pub(super) async fn routes_overview(
    db: &DatabaseConnection,
    days: i64,
    today: NaiveDate,
) -> Result<RoutesOverview, ApiError> {
    let community = routes::Entity::find()
        .filter(routes::Column::Visibility.eq(COMMUNITY))
        .order_by_asc(routes::Column::FromLabel)
        .order_by_asc(routes::Column::Id)
        .all(db)
        .await?;
    let enabled_ids: Vec<String> = community
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.id.clone())
        .collect();
    let oldest = today - chrono::Duration::days(days);
    let latest = latest_results(db, &enabled_ids).await?;
    let history = history_rows(db, &enabled_ids, oldest, today).await?;

    let mut state_counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut entries = Vec::with_capacity(community.len());
    for route in community {
        let result = latest.get(&route.id).filter(|_| route.enabled);
        let (state, quality, matched_count) = if !route.enabled {
            (DISABLED.to_string(), DISABLED.to_string(), None)
        } else if let Some(r) = result {
            (
                label_or(Some(&r.state), NO_COVERAGE),
                label_or(Some(&r.quality), NO_COVERAGE),
                Some(i64::from(r.matched_count)),
            )
        } else {
            (NO_COVERAGE.to_string(), NO_COVERAGE.to_string(), None)
        };
        *state_counts.entry(state.clone()).or_default() += 1;
        let days_out = daily_series(route.enabled, history.get(&route.id), result, days, today);

        entries.push(RouteOverviewEntry {
            id: route.id,
            from_label: route.from_label,
            to_label: route.to_label,
            visibility: route.visibility,
            enabled: route.enabled,
            state,
            quality,
            matched_count,
            history: days_out,
        });
    }

    Ok(RoutesOverview {
        days,
        by_state: order_states(state_counts),
        routes: entries,
    })
}

/// `by_state` in the dashboard's order (see [`STATE_ORDER`]); zero counts never occur.
fn order_states(mut counts: BTreeMap<String, i64>) -> Vec<LabelCount> {
    let mut out: Vec<LabelCount> = STATE_ORDER
        .iter()
        .filter_map(|label| {
            counts.remove(*label).map(|count| LabelCount {
                label: (*label).to_string(),
                count,
            })
        })
        .collect();
    // BTreeMap iterates the remaining labels alphabetically.
    out.extend(
        counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(label, count)| LabelCount { label, count }),
    );
    out.retain(|b| b.count > 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_in_dashboard_order() {
        let counts: BTreeMap<String, i64> = [
            ("zeta", 1),
            ("disabled", 2),
            ("alpha", 3),
            ("healthy", 1),
            ("no_coverage", 4),
        ]
        .iter()
        .map(|(l, n)| (l.to_string(), *n))
        .collect();
        let labels: Vec<String> = order_states(counts).into_iter().map(|b| b.label).collect();
        assert_eq!(
            labels,
            ["healthy", "no_coverage", "disabled", "alpha", "zeta"]
        );
    }
}
