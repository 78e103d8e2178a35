//! `GET /api/v1/dashboard/routes-overview`: health of the community routes.
//!
//! hub only reads what MeshCore Hub's route evaluator wrote: the latest result per route
//! (`route_results`) and one row per route and day (`route_result_history`).

use super::LabelCount;
use crate::error::ApiError;
use chrono::NaiveDate;
use hub_core::entity::{route_result_history, route_results, routes};
use poem_openapi::Object;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, HashMap};

/// The only route visibility the dashboard shows, whatever the caller's role.
const COMMUNITY: &str = "community";
/// State and quality of a switched-off route.
const DISABLED: &str = "disabled";
/// State of a route (or day) without an evaluation.
const NO_COVERAGE: &str = "no_coverage";
/// Quality of a day without an evaluation.
const UNKNOWN: &str = "unknown";
/// `by_state` lists these first, in this order; other states follow alphabetically.
const STATE_ORDER: [&str; 4] = ["healthy", "unhealthy", NO_COVERAGE, DISABLED];

/// One day of a route's history.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct RouteDay {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// The day's quality (`unknown` when not evaluated).
    pub quality: String,
    /// The day's state (`no_coverage` when not evaluated).
    pub state: String,
    /// Matching packets counted that day.
    pub matched_count: i64,
}

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

/// A route's latest evaluation. Read as options so that a NULL written by another tool
/// degrades to `no_coverage` instead of failing the whole overview.
#[derive(Debug, Clone)]
struct LatestResult {
    state: Option<String>,
    quality: Option<String>,
    matched_count: Option<i64>,
}

/// A `route_results` row as read: route id, state, quality, matched count. The count is
/// read as `i32` because PostgreSQL's driver will not decode its INTEGER into `i64`.
type ResultRow = (String, Option<String>, Option<String>, Option<i32>);
/// A `route_result_history` row as read: route id, date, quality, state, matched count.
type HistoryRow = (
    String,
    NaiveDate,
    Option<String>,
    Option<String>,
    Option<i32>,
);

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
    let day_dates: Vec<NaiveDate> = (0..days)
        .map(|i| oldest + chrono::Duration::days(i))
        .collect();

    let mut state_counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut entries = Vec::with_capacity(community.len());
    for route in community {
        let result = latest.get(&route.id).filter(|_| route.enabled);
        let (state, quality, matched_count) = if !route.enabled {
            (DISABLED.to_string(), DISABLED.to_string(), None)
        } else if let Some(r) = result {
            (
                label_or(&r.state, NO_COVERAGE),
                label_or(&r.quality, NO_COVERAGE),
                r.matched_count,
            )
        } else {
            (NO_COVERAGE.to_string(), NO_COVERAGE.to_string(), None)
        };
        *state_counts.entry(state.clone()).or_default() += 1;

        let past = history.get(&route.id);
        let mut days_out: Vec<RouteDay> = day_dates
            .iter()
            .map(
                |d| match past.and_then(|p| p.get(d)).filter(|_| route.enabled) {
                    Some(day) => RouteDay {
                        date: format_date(*d),
                        ..day.clone()
                    },
                    None => unevaluated(*d),
                },
            )
            .collect();
        days_out.push(match result {
            Some(r) => RouteDay {
                date: format_date(today),
                quality: label_or(&r.quality, UNKNOWN),
                state: label_or(&r.state, NO_COVERAGE),
                matched_count: r.matched_count.unwrap_or(0),
            },
            None => unevaluated(today),
        });

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

/// The history entry of a day without an evaluation (or of a disabled route).
fn unevaluated(date: NaiveDate) -> RouteDay {
    RouteDay {
        date: format_date(date),
        quality: UNKNOWN.to_string(),
        state: NO_COVERAGE.to_string(),
        matched_count: 0,
    }
}

/// `value`, or `fallback` when it is NULL or blank.
fn label_or(value: &Option<String>, fallback: &str) -> String {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(fallback)
        .to_string()
}

fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
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

/// The latest `route_results` row of each route id. The table has no unique constraint on
/// route_id, so when a route has several rows the most recently evaluated wins.
async fn latest_results(
    db: &DatabaseConnection,
    route_ids: &[String],
) -> Result<HashMap<String, LatestResult>, DbErr> {
    let mut latest = HashMap::new();
    for chunk in route_ids.chunks(500) {
        let rows: Vec<ResultRow> = route_results::Entity::find()
            .filter(route_results::Column::RouteId.is_in(chunk.iter().cloned()))
            .order_by_asc(route_results::Column::EvaluatedAt)
            .order_by_asc(route_results::Column::Id)
            .select_only()
            .column(route_results::Column::RouteId)
            .column(route_results::Column::State)
            .column(route_results::Column::Quality)
            .column(route_results::Column::MatchedCount)
            .into_tuple()
            .all(db)
            .await?;
        for (route_id, state, quality, matched_count) in rows {
            latest.insert(
                route_id,
                LatestResult {
                    state,
                    quality,
                    matched_count: matched_count.map(i64::from),
                },
            );
        }
    }
    Ok(latest)
}

/// History rows of each route id for the days in `[oldest, today)`, by day.
async fn history_rows(
    db: &DatabaseConnection,
    route_ids: &[String],
    oldest: NaiveDate,
    today: NaiveDate,
) -> Result<HashMap<String, HashMap<NaiveDate, RouteDay>>, DbErr> {
    let mut by_route: HashMap<String, HashMap<NaiveDate, RouteDay>> = HashMap::new();
    if oldest >= today {
        return Ok(by_route);
    }
    for chunk in route_ids.chunks(500) {
        let rows: Vec<HistoryRow> = route_result_history::Entity::find()
            .filter(route_result_history::Column::RouteId.is_in(chunk.iter().cloned()))
            .filter(route_result_history::Column::Date.gte(oldest))
            .filter(route_result_history::Column::Date.lt(today))
            .select_only()
            .column(route_result_history::Column::RouteId)
            .column(route_result_history::Column::Date)
            .column(route_result_history::Column::Quality)
            .column(route_result_history::Column::State)
            .column(route_result_history::Column::MatchedCount)
            .into_tuple()
            .all(db)
            .await?;
        for (route_id, date, quality, state, matched_count) in rows {
            by_route.entry(route_id).or_default().insert(
                date,
                RouteDay {
                    date: format_date(date),
                    quality: label_or(&quality, UNKNOWN),
                    state: label_or(&state, NO_COVERAGE),
                    matched_count: matched_count.map_or(0, i64::from),
                },
            );
        }
    }
    Ok(by_route)
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

    #[test]
    fn blank_labels_fall_back() {
        assert_eq!(label_or(&None, NO_COVERAGE), NO_COVERAGE);
        assert_eq!(label_or(&Some(" ".into()), UNKNOWN), UNKNOWN);
        assert_eq!(label_or(&Some("clear".into()), UNKNOWN), "clear");
    }
}
