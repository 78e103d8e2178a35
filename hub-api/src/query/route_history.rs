//! A route's latest evaluation and daily history, as the dashboard's routes overview and the
//! route history endpoint both show them (docs/contract/api.md section 2, docs/contract/api-2.md section 5.4).
//!
//! hub only reads what MeshCore Hub's route evaluator wrote: the latest result per route
//! (`route_results`) and one row per route and completed UTC day (`route_result_history`).

use chrono::NaiveDate;
use hub_core::entity::{route_result_history, route_results};
use poem_openapi::Object;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;

/// State of a route (or day) without an evaluation.
pub const NO_COVERAGE: &str = "no_coverage";
/// Quality of a day without an evaluation.
pub const UNKNOWN: &str = "unknown";

/// Most route ids bound in one `IN (...)` list.
const CHUNK: usize = 500;

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

impl RouteDay {
    /// The entry of a day without an evaluation (and of every day of a disabled route).
    pub fn unevaluated(date: NaiveDate) -> RouteDay {
        RouteDay::of(date, None, None, 0)
    }

    fn of(date: NaiveDate, quality: Option<&str>, state: Option<&str>, matched: i32) -> RouteDay {
        RouteDay {
            date: date.format("%Y-%m-%d").to_string(),
            quality: label_or(quality, UNKNOWN),
            state: label_or(state, NO_COVERAGE),
            matched_count: i64::from(matched),
        }
    }
}

/// `value`, or `fallback` when it is blank.
pub fn label_or(value: Option<&str>, fallback: &str) -> String {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(fallback)
        .to_string()
}

/// The latest `route_results` row of each route id. The table allows several rows per route
/// in databases other tools wrote; the most recently evaluated wins.
pub async fn latest_results(
    db: &DatabaseConnection,
    route_ids: &[String],
) -> Result<HashMap<String, route_results::Model>, DbErr> {
    let mut latest = HashMap::new();
    for chunk in route_ids.chunks(CHUNK) {
        for row in route_results::Entity::find()
            .filter(route_results::Column::RouteId.is_in(chunk.iter().cloned()))
            .order_by_asc(route_results::Column::EvaluatedAt)
            .order_by_asc(route_results::Column::Id)
            .all(db)
            .await?
        {
            latest.insert(row.route_id.clone(), row);
        }
    }
    Ok(latest)
}

/// History rows of each route id for the days in `[oldest, today)`, by day.
pub async fn history_rows(
    db: &DatabaseConnection,
    route_ids: &[String],
    oldest: NaiveDate,
    today: NaiveDate,
) -> Result<HashMap<String, HashMap<NaiveDate, route_result_history::Model>>, DbErr> {
    let mut by_route: HashMap<String, HashMap<NaiveDate, _>> = HashMap::new();
    if oldest >= today {
        return Ok(by_route);
    }
    for chunk in route_ids.chunks(CHUNK) {
        for row in route_result_history::Entity::find()
            .filter(route_result_history::Column::RouteId.is_in(chunk.iter().cloned()))
            .filter(route_result_history::Column::Date.gte(oldest))
            .filter(route_result_history::Column::Date.lt(today))
            .all(db)
            .await?
        {
            by_route
                .entry(row.route_id.clone())
                .or_default()
                .insert(row.date, row);
        }
    }
    Ok(by_route)
}

/// A route's series: one entry per day from `today - days` to yesterday from `past`
/// (unevaluated where a day is missing), then today's entry from `latest`. Every entry of a
/// disabled route is unevaluated.
pub fn daily_series(
    enabled: bool,
    past: Option<&HashMap<NaiveDate, route_result_history::Model>>,
    latest: Option<&route_results::Model>,
    days: i64,
    today: NaiveDate,
) -> Vec<RouteDay> {
    let oldest = today - chrono::Duration::days(days.max(0));
    let mut series: Vec<RouteDay> = (0..days.max(0))
        .map(|i| oldest + chrono::Duration::days(i))
        .map(
            |date| match past.and_then(|p| p.get(&date)).filter(|_| enabled) {
                Some(row) => RouteDay::of(
                    date,
                    Some(&row.quality),
                    Some(&row.state),
                    row.matched_count,
                ),
                None => RouteDay::unevaluated(date),
            },
        )
        .collect();
    series.push(match latest.filter(|_| enabled) {
        Some(r) => RouteDay::of(today, Some(&r.quality), Some(&r.state), r.matched_count),
        None => RouteDay::unevaluated(today),
    });
    series
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_labels_fall_back() {
        assert_eq!(label_or(None, NO_COVERAGE), NO_COVERAGE);
        assert_eq!(label_or(Some(" "), UNKNOWN), UNKNOWN);
        assert_eq!(label_or(Some("clear"), UNKNOWN), "clear");
    }

    #[test]
    fn series_fills_missing_days_and_ends_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let series = daily_series(true, None, None, 2, today);
        let dates: Vec<&str> = series.iter().map(|d| d.date.as_str()).collect();
        assert_eq!(dates, ["2026-11-26", "2026-11-27", "2026-11-28"]);
        assert!(series.iter().all(|d| d
            == &RouteDay {
                date: d.date.clone(),
                quality: UNKNOWN.into(),
                state: NO_COVERAGE.into(),
                matched_count: 0
            }));
        assert_eq!(daily_series(true, None, None, -3, today).len(), 1);
    }
}
