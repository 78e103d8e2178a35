//! The inclusive `since` / `until` window of a list or count, shared by the list queries
//! (`list`) and the kept per-day counts (`day_counts`).

use crate::error::ApiError;
use crate::params::{Bound, datetime_bound, parse_datetime};
use chrono::NaiveDateTime;
use sea_orm::{ColumnTrait, Condition, DbBackend};

/// The inclusive `since` / `until` window of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// Rows at or after this time.
    pub since: Option<NaiveDateTime>,
    /// Rows at or before this time.
    pub until: Option<NaiveDateTime>,
}

impl TimeWindow {
    /// Parses the `since` and `until` parameters; a malformed one is a 422 naming it.
    ///
    /// ```
    /// use hub_api::query::time_window::TimeWindow;
    /// let window = TimeWindow::parse(Some("2026-11-26T05:00:00Z"), None).unwrap();
    /// assert!(window.since.is_some() && window.until.is_none());
    /// assert!(TimeWindow::parse(None, Some("yesterday")).is_err());
    /// ```
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Self, ApiError> {
        Ok(TimeWindow {
            since: parse_datetime("since", since)?,
            until: parse_datetime("until", until)?,
        })
    }

    /// `column >= since AND column <= until`, for the bounds that are set.
    pub fn condition(&self, backend: DbBackend, column: impl ColumnTrait) -> Condition {
        let mut condition = Condition::all();
        if let Some(since) = self.since {
            condition = condition.add(column.gte(datetime_bound(backend, since, Bound::Lower)));
        }
        if let Some(until) = self.until {
            condition = condition.add(column.lte(datetime_bound(backend, until, Bound::Upper)));
        }
        condition
    }
}
