//! Row counts by UTC day, and list totals whose whole past days are counted once and kept
//! (docs/benchmarks.md, "Every filter").
//!
//! The collector stamps every row with the time it was heard, so a past day's rows stay as
//! they are until something reaches back (a late row, a retention delete: see [`PastDays`]).
//! A window cut at midnights then costs only its partial first day and its last day (usually
//! today) on each request; the whole days between are counted once, and again after a change
//! of the tables they were counted from ([`counted_tables`]).

use super::past_days::PastDays;
use super::time_window::TimeWindow;
use crate::params::{Bound, datetime_bound};
use chrono::{DurationRound, NaiveDate, NaiveDateTime, NaiveTime};
use hub_core::tables::Table;
use hub_core::time::Timestamp;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IdenStatic,
    QueryFilter, QuerySelect, QueryTrait, Select,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// SQL of the UTC day of `column`, as `YYYY-MM-DD` text on SQLite and PostgreSQL alike
/// (`date()` parses SQLite's text timestamps; on PostgreSQL it is the cast to `date`).
pub fn day_sql(table: &str, column: &str) -> String {
    format!("CAST(date({table}.{column}) AS TEXT)")
}

/// `YYYY-MM-DD` text of [`day_sql`] as a date.
pub fn parse_day(day: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Midnight (UTC) starting `date`.
pub fn midnight(date: NaiveDate) -> NaiveDateTime {
    date.and_time(NaiveTime::MIN)
}

/// The start of the hour of `at`.
pub fn floor_hour(at: NaiveDateTime) -> NaiveDateTime {
    at.duration_trunc(chrono::Duration::hours(1)).unwrap_or(at)
}

/// `at` when it starts an hour, else the start of the next hour.
pub fn ceil_hour(at: NaiveDateTime) -> NaiveDateTime {
    let floor = floor_hour(at);
    if floor == at {
        at
    } else {
        floor + chrono::Duration::hours(1)
    }
}

/// `COUNT(*)` of the rows `select` matches, as one aggregate query (no row loading).
pub async fn count_rows<E: EntityTrait>(
    db: &DatabaseConnection,
    select: Select<E>,
) -> Result<i64, DbErr> {
    Ok(select
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "n")
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}

/// Counts of `select`'s rows per UTC day of `column`, for the days `first..=last` (a day
/// without rows is absent).
pub async fn counts_by_day<E: EntityTrait>(
    db: &DatabaseConnection,
    select: Select<E>,
    column: E::Column,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<HashMap<NaiveDate, i64>, DbErr> {
    if last < first {
        return Ok(HashMap::new());
    }
    let day = day_sql(E::default().table_name(), column.as_str());
    let rows: Vec<(Option<String>, i64)> = select
        .filter(column.gte(midnight(first)))
        .filter(column.lt(midnight(last + chrono::Duration::days(1))))
        .select_only()
        .column_as(Expr::cust(day.clone()), "day")
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(Expr::cust(day))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(day, n)| day.as_deref().and_then(parse_day).map(|d| (d, n)))
        .collect())
}

/// The tables a kept count of `E`'s rows is counted from: `E`'s own, and the observers of its
/// events, which the `observed_by` filter reads. (Names, tags and adoptions a filter names
/// are resolved to ids on each request and enter the key instead: see
/// [`ids_of`](super::filters::ids_of).)
///
/// ```
/// use hub_api::query::day_counts::counted_tables;
/// use hub_core::{entity::messages, tables::Table};
/// assert_eq!(counted_tables::<messages::Entity>(), [Table::Messages, Table::EventObservers]);
/// ```
pub fn counted_tables<E: EntityTrait>() -> &'static [Table] {
    match Table::from_name(E::default().table_name()) {
        Some(Table::Messages) => &[Table::Messages, Table::EventObservers],
        Some(Table::Advertisements) => &[Table::Advertisements, Table::EventObservers],
        Some(Table::RawPackets) => &[Table::RawPackets, Table::EventObservers],
        // No other table's rows are counted by day; should one be, every change counts.
        _ => Table::ALL,
    }
}

/// [`counts_by_day`] for the past days `dates`, the days already counted for `key` (which
/// names exactly what `select` counts) taken from `kept`, so that only days not seen yet
/// are read.
pub async fn kept_counts_by_day<E: EntityTrait>(
    db: &DatabaseConnection,
    kept: &PastDays<i64>,
    key: &str,
    select: Select<E>,
    column: E::Column,
    dates: &[NaiveDate],
) -> Result<HashMap<NaiveDate, i64>, DbErr> {
    let db = db.clone();
    let tables = counted_tables::<E>();
    kept.get_or_fetch(key, tables, dates, 0, move |first, last| async move {
        counts_by_day(&db, select, column, first, last).await
    })
    .await
}

/// A list's time window cut at UTC midnights: the whole days before today that lie inside
/// it, and the two ends around them that are read on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowDays {
    /// The window's rows before the first whole day (`since` to the next midnight).
    head: Option<TimeWindow>,
    /// Whole past days inside the window, oldest first; never empty.
    whole_days: Vec<NaiveDate>,
    /// The window's rows after the last whole day (that day's end to `until`, or on).
    tail: TimeWindow,
    /// The window has no `since`: the whole days start at the table's oldest row.
    from_oldest_row: bool,
}

impl WindowDays {
    /// Cuts `window` at midnights, given today's date and `oldest`, the time of the table's
    /// oldest row (the start of a window without `since`). `None` when no whole past day
    /// lies inside the window: then there is nothing to keep and the window is counted as is.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use hub_api::query::day_counts::WindowDays;
    /// use hub_api::query::time_window::TimeWindow;
    /// let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    /// let week = TimeWindow::parse(Some("2026-11-25T07:00:00Z"), None).unwrap();
    /// let days = WindowDays::new(week, None, today).unwrap();
    /// assert_eq!(days.whole_days().len(), 6); // Nov 26 to Dec 1
    /// let today_only = TimeWindow::parse(Some("2026-12-02T01:00:00Z"), None).unwrap();
    /// assert!(WindowDays::new(today_only, None, today).is_none());
    /// ```
    pub fn new(
        window: TimeWindow,
        oldest: Option<NaiveDateTime>,
        today: NaiveDate,
    ) -> Option<WindowDays> {
        let first = match window.since {
            Some(since) if since == midnight(since.date()) => since.date(),
            Some(since) => since.date().succ_opt()?,
            None => oldest?.date(),
        };
        // A day is whole when the window goes on past its end: `until` on a later day.
        let last = match window.until {
            Some(until) => until.date().pred_opt()?.min(today.pred_opt()?),
            None => today.pred_opt()?,
        };
        if last < first {
            return None;
        }
        let head = window
            .since
            .filter(|since| *since < midnight(first))
            .map(|since| TimeWindow {
                since: Some(since),
                until: None,
            });
        Some(WindowDays {
            head,
            whole_days: first.iter_days().take_while(|d| *d <= last).collect(),
            tail: TimeWindow {
                since: None,
                until: window.until,
            },
            from_oldest_row: window.since.is_none(),
        })
    }

    /// The whole past days inside the window, oldest first.
    pub fn whole_days(&self) -> &[NaiveDate] {
        &self.whole_days
    }

    /// `select` restricted to the window's head (when there is one) and to its tail: two
    /// plain ranges rather than one OR of both, so that each is an index range (for the OR
    /// the planner walks a whole index, e.g. every flood advert).
    pub fn edges<E: EntityTrait>(
        &self,
        backend: DbBackend,
        select: Select<E>,
        column: E::Column,
    ) -> Vec<Select<E>> {
        match (self.whole_days.first(), self.tail_start()) {
            (Some(first), Some(tail_start)) => {
                self.edges_to(backend, select, column, midnight(*first), tail_start)
            }
            _ => Vec::new(),
        }
    }

    /// [`edges`](Self::edges) with the head read up to `head_to` (at or before the first
    /// whole day) and the tail from `tail_from` on (at or after where it starts: one lower
    /// bound, since given two as parameters SQLite may start its index range at the earlier
    /// one).
    fn edges_to<E: EntityTrait>(
        &self,
        backend: DbBackend,
        select: Select<E>,
        column: E::Column,
        head_to: NaiveDateTime,
        tail_from: NaiveDateTime,
    ) -> Vec<Select<E>> {
        let mut edges = Vec::with_capacity(2);
        if let Some(head) = self.head.filter(|head| head.since < Some(head_to)) {
            edges.push(
                select
                    .clone()
                    .filter(head.condition(backend, column))
                    .filter(column.lt(datetime_bound(backend, head_to, Bound::Lower))),
            );
        }
        edges.push(
            select
                .filter(column.gte(datetime_bound(backend, tail_from, Bound::Lower)))
                .filter(self.tail.condition(backend, column)),
        );
        edges
    }

    /// The midnight after the last whole day, where the tail starts.
    fn tail_start(&self) -> Option<NaiveDateTime> {
        Some(midnight(
            *self.whole_days.last()? + chrono::Duration::days(1),
        ))
    }

    /// The end of the head's first hour when the head's rows after it are worth keeping: it
    /// has a whole hour before the first whole day. Those hours are past, so a late row
    /// among them is reported as a change that reaches the past, like one in a whole day.
    fn kept_head_start(&self) -> Option<NaiveDateTime> {
        let hour = ceil_hour(self.head?.since?);
        (hour < midnight(*self.whole_days.first()?)).then_some(hour)
    }

    /// The start of the hour of `now` when the tail's rows before it are worth keeping: the
    /// tail starts before that hour and reaches it. Those rows end before the data-change
    /// watch's horizon (the current hour), so a late row among them is reported as a change
    /// that reaches the past, like one in a whole day.
    fn kept_tail_end(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let hour = floor_hour(now);
        let reaches = self.tail.until.is_none_or(|until| until >= hour);
        (self.tail_start()? < hour && reaches).then_some(hour)
    }

    /// The rows of `select` in the window by `column`, with the count of each whole day
    /// taken from `per_day` (a day it lacks has none) and the edges counted.
    pub async fn count_with_days<E: EntityTrait>(
        &self,
        db: &DatabaseConnection,
        select: Select<E>,
        column: E::Column,
        per_day: &HashMap<NaiveDate, i64>,
    ) -> Result<i64, DbErr> {
        let mut rows = 0;
        for edge in self.edges(db.get_database_backend(), select, column) {
            rows += count_rows(db, edge).await?;
        }
        let whole: i64 = self.whole_days.iter().filter_map(|d| per_day.get(d)).sum();
        Ok(rows + whole)
    }

    /// The rows of `select` in the window by `column` at `now`: the head's first partial hour
    /// and the current hour counted; the head's whole hours, the span of whole days and the
    /// tail's hours before the current one from `kept` under `key` (which must name everything `select` filters on), or, when not kept
    /// yet, counted by `day_select` (the same rows as `select`, as written for a long range)
    /// and by `select`.
    #[allow(clippy::too_many_arguments)]
    pub async fn count<E: EntityTrait>(
        &self,
        db: &DatabaseConnection,
        kept: &PastDays<i64>,
        key: &str,
        select: Select<E>,
        day_select: Select<E>,
        column: E::Column,
        now: NaiveDateTime,
    ) -> Result<u64, DbErr> {
        let backend = db.get_database_backend();
        let (Some(first), Some(last), Some(tail_start)) = (
            self.whole_days.first(),
            self.whole_days.last(),
            self.tail_start(),
        ) else {
            return Ok(0);
        };
        let first_start = datetime_bound(backend, midnight(*first), Bound::Lower);
        let after_last = datetime_bound(backend, tail_start, Bound::Lower);
        let tables = counted_tables::<E>();
        let kept_head_start = self.kept_head_start();
        let kept_tail_end = self.kept_tail_end(now);
        let live = self.edges_to(
            backend,
            select.clone(),
            column,
            kept_head_start.unwrap_or(midnight(*first)),
            kept_tail_end.unwrap_or(tail_start),
        );
        let edges = async {
            let mut rows = 0;
            for edge in live {
                rows += count_rows(db, edge).await?;
            }
            Ok::<_, DbErr>(rows)
        };
        // Whole hours beside the whole days, each run kept as one span too: the head's after
        // its first hour (a window starting 7 days ago mid-day counted up to a day of rows on
        // every request) and the tail's before the current one (today's, usually: a filter on
        // the text of today's packets, 60 ms against a few). Only the first partial hour and
        // the current hour are read by every request.
        let kept_hours = |hours: Option<(NaiveDateTime, NaiveDateTime)>| {
            let counted = hours.map(|(from, to)| {
                let rows = select
                    .clone()
                    .filter(column.gte(datetime_bound(backend, from, Bound::Lower)))
                    .filter(column.lt(datetime_bound(backend, to, Bound::Lower)));
                (format!("{key} {from}..{to}"), from.date(), rows)
            });
            let reader = db.clone();
            async move {
                let Some((span, day, rows)) = counted else {
                    return Ok::<_, DbErr>(0);
                };
                let count = async move { count_rows(&reader, rows).await };
                kept_span(kept, &span, tables, day, count).await
            }
        };
        let head_hours = kept_hours(kept_head_start.map(|hour| (hour, midnight(*first))));
        let tail_hours = kept_hours(kept_tail_end.map(|hour| (tail_start, hour)));
        // The whole days as one span, not per day: one COUNT reads an index range, where
        // grouping by day computes every row's date (messages: 36 ms against 610 ms). A
        // window moves by a day a day, so a span is counted about once a day (and again
        // after a change reaches back into it).
        let span = format!("{key} {first}..{last}");
        let from_oldest = self.head.is_none() && self.from_oldest_row;
        let reader = db.clone();
        let whole = kept_span(kept, &span, tables, *first, async move {
            if from_oldest {
                // Every row but the tail's, as one statement (one snapshot): without a lower
                // time bound the count reads the filter's narrowest index (a covering one for
                // message visibility: 27 ms) where the time range reads every row (130 ms).
                all_but_from(&reader, day_select, column, after_last).await
            } else {
                let rows = day_select
                    .filter(column.gte(first_start))
                    .filter(column.lt(after_last));
                count_rows(&reader, rows).await
            }
        });
        let (edges, head_hours, tail_hours, whole) = tokio::try_join!(
            Box::pin(edges),
            Box::pin(head_hours),
            Box::pin(tail_hours),
            Box::pin(whole)
        )?;
        let total = edges + head_hours + tail_hours + whole;
        Ok(u64::try_from(total).unwrap_or(0))
    }
}

/// The rows of one span kept in `kept` as the single bucket `bucket` of the key `span`
/// (which names the span and what it counts), counted by `count` when not kept.
async fn kept_span(
    kept: &PastDays<i64>,
    span: &str,
    tables: &'static [Table],
    bucket: NaiveDate,
    count: impl Future<Output = Result<i64, DbErr>> + Send + 'static,
) -> Result<i64, DbErr> {
    let counted = kept
        .get_or_fetch(span, tables, &[bucket], 0, move |bucket, _| async move {
            Ok::<_, DbErr>(HashMap::from([(bucket, count.await?)]))
        })
        .await?;
    Ok(counted.values().sum())
}

/// The time of the oldest row of `E`'s whole table by `column` (one index entry), where a
/// window without `since` begins; `None` for an empty table.
pub async fn oldest_row<E: EntityTrait>(
    db: &DatabaseConnection,
    column: E::Column,
) -> Result<Option<NaiveDateTime>, DbErr> {
    let oldest: Option<Option<Timestamp>> = E::find()
        .select_only()
        .column_as(column.min(), "oldest")
        .into_tuple()
        .one(db)
        .await?;
    Ok(oldest.flatten().map(|t| t.0))
}

/// The rows of `select` before `from` by `column`, counted as all of them less those from
/// `from` on, in one statement.
async fn all_but_from<E: EntityTrait>(
    db: &DatabaseConnection,
    select: Select<E>,
    column: E::Column,
    from: sea_orm::Value,
) -> Result<i64, DbErr> {
    use sea_orm::sea_query::{ExprTrait, SubQueryStatement};
    let count = |select: Select<E>| {
        let query = select
            .select_only()
            .column_as(Expr::cust("COUNT(*)"), "n")
            .into_query();
        Expr::SubQuery(None, Box::new(SubQueryStatement::from(query)))
    };
    let all = count(select.clone());
    let later = count(select.filter(column.gte(from)));
    let mut query = sea_orm::sea_query::Query::select();
    query.expr(all.sub(later));
    match db.query_one(&query).await? {
        Some(row) => row.try_get_by_index::<i64>(0),
        None => Ok(0),
    }
}

/// The key under which the per-day counts of `select` are kept: a digest of its SQL and bound
/// values, so two selects share counts exactly when they filter alike.
pub fn select_key<E: EntityTrait>(backend: sea_orm::DbBackend, select: &Select<E>) -> String {
    let statement = select.build(backend);
    let mut digest = Sha256::new();
    digest.update(statement.sql.as_bytes());
    digest.update(format!("{:?}", statement.values).as_bytes());
    // A search may bind hundreds of node ids: keep a fixed-size digest of it, not the text.
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap_or_default()
    }

    fn day(text: &str) -> NaiveDate {
        parse_day(text).unwrap_or_default()
    }

    #[test]
    fn cuts_a_window_at_midnights() {
        let today = day("2026-12-02");
        let window = TimeWindow {
            since: Some(at("2026-11-28 07:00:00")),
            until: Some(at("2026-12-01 12:00:00")),
        };
        let split = WindowDays::new(window, None, today);
        assert_eq!(
            split,
            Some(WindowDays {
                head: Some(TimeWindow {
                    since: window.since,
                    until: None
                }),
                whole_days: vec![day("2026-11-29"), day("2026-11-30")],
                tail: TimeWindow {
                    since: None,
                    until: window.until
                },
                from_oldest_row: false,
            })
        );
    }

    #[test]
    fn a_window_from_midnight_has_no_head_and_all_time_starts_at_the_oldest_row() {
        let today = day("2026-12-02");
        let from_midnight = TimeWindow {
            since: Some(at("2026-11-30 00:00:00")),
            until: None,
        };
        let split = WindowDays::new(from_midnight, None, today);
        assert_eq!(split.as_ref().map(|s| s.head), Some(None));
        assert_eq!(
            split.map(|s| s.whole_days),
            Some(vec![day("2026-11-30"), day("2026-12-01")])
        );
        let all_time = WindowDays::new(
            TimeWindow::default(),
            Some(at("2026-11-29 13:00:00")),
            today,
        );
        assert_eq!(
            all_time.map(|s| s.whole_days),
            Some(vec![
                day("2026-11-29"),
                day("2026-11-30"),
                day("2026-12-01")
            ])
        );
    }

    #[test]
    fn no_whole_past_day_means_no_split() {
        let today = day("2026-12-02");
        let cases = [
            // today only
            (Some("2026-12-02 01:00:00"), None),
            // one partial day in the past
            (Some("2026-11-28 07:00:00"), Some("2026-11-28 20:00:00")),
            // up to a moment of the only day it covers
            (Some("2026-11-28 00:00:00"), Some("2026-11-28 23:59:59")),
            // in the future
            (Some("2026-12-05 00:00:00"), None),
        ];
        for (since, until) in cases {
            let window = TimeWindow {
                since: since.map(at),
                until: until.map(at),
            };
            assert_eq!(WindowDays::new(window, None, today), None, "{window:?}");
        }
        // An empty table without `since`.
        assert_eq!(WindowDays::new(TimeWindow::default(), None, today), None);
    }
}
