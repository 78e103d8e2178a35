//! Daily series (`activity`, `packet-activity`, `message-activity`, `node-count`) and the
//! `packet-breakdown` of raw packets over the same kind of day window.

use super::{DayWindow, LabelCount, flood_only, today, visible_messages};
use crate::error::ApiError;
use crate::query::day_counts::{self, count_rows, counts_by_day, day_sql, parse_day};
use crate::query::lookups::visible_channels;
use crate::query::past_days::{DashboardDays, PacketKindCount};
use chrono::NaiveDate;
use hub_core::entity::{advertisements, messages, nodes, raw_packets};
use hub_core::roles::Role;
use poem_openapi::Object;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IdenStatic, QueryFilter, QuerySelect,
    Select,
};
use std::collections::{BTreeSet, HashMap};

/// One day of a series.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct DailyPoint {
    /// The UTC day, `YYYY-MM-DD`.
    pub date: String,
    /// The day's count (for `node-count`: the total at the end of the day).
    pub count: i64,
}

/// A daily series: one entry per day from today-`days` to yesterday, oldest first.
#[derive(Debug, Clone, Object)]
pub struct DailySeries {
    /// Days covered, after clamping to 0..=90; equals the number of entries.
    pub days: i64,
    /// One entry per day, zero-filled.
    pub data: Vec<DailyPoint>,
}

/// Raw packet composition over a day window.
#[derive(Debug, Clone, Object)]
pub struct PacketBreakdown {
    /// Days covered, after clamping to 0..=90.
    pub days: i64,
    /// Top 6 event types by count (ties by label), then `other` summing the rest if any.
    pub by_event_type: Vec<LabelCount>,
    /// Packets by path hash width: always `1b`, `2b`, `3b`, in that order.
    pub by_path_width: Vec<LabelCount>,
}

/// A `packet-breakdown` row of one day: `(day, event_type, path_hash_bytes, count)`.
type DayPacketKindCount = (Option<String>, Option<String>, Option<i32>, i64);

/// Event types listed by name in `packet-breakdown`; the rest are summed as `other`.
const TOP_EVENT_TYPES: usize = 6;

/// Label of packets without an event type.
const UNKNOWN_EVENT_TYPE: &str = "unknown";

/// [`kept_counts_by_day`](day_counts::kept_counts_by_day) on the dashboard's row counts.
async fn kept_counts_by_day<E: EntityTrait>(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    key: &str,
    select: Select<E>,
    column: E::Column,
    dates: &[NaiveDate],
) -> Result<HashMap<NaiveDate, i64>, DbErr> {
    day_counts::kept_counts_by_day(db, &kept.counts, key, select, column, dates).await
}

/// Flood-only adverts on each of the past days `dates`.
pub(super) async fn flood_advert_days(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    dates: &[NaiveDate],
) -> Result<HashMap<NaiveDate, i64>, DbErr> {
    let adverts = advertisements::Entity::find().filter(flood_only());
    let column = advertisements::Column::ReceivedAt;
    kept_counts_by_day(db, kept, "flood adverts", adverts, column, dates).await
}

/// Raw packets on each of the past days `dates`.
pub(super) async fn packet_days(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    dates: &[NaiveDate],
) -> Result<HashMap<NaiveDate, i64>, DbErr> {
    let packets = raw_packets::Entity::find();
    let column = raw_packets::Column::ReceivedAt;
    kept_counts_by_day(db, kept, "raw packets", packets, column, dates).await
}

/// Messages on the channels `visible` (and every non-channel message) on each of the past
/// days `dates`.
pub(super) async fn visible_message_days(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    visible: &BTreeSet<i32>,
    dates: &[NaiveDate],
) -> Result<HashMap<NaiveDate, i64>, DbErr> {
    let shown = messages::Entity::find().filter(visible_messages(visible));
    let column = messages::Column::ReceivedAt;
    // Roles that see the same channels share the kept counts.
    let key = format!("messages on {visible:?}");
    kept_counts_by_day(db, kept, &key, shown, column, dates).await
}

/// The zero-filled series of `window` from per-day counts.
fn series(window: &DayWindow, counts: &HashMap<NaiveDate, i64>) -> DailySeries {
    DailySeries {
        days: window.days,
        data: window
            .dates
            .iter()
            .map(|d| DailyPoint {
                date: format_date(*d),
                count: counts.get(d).copied().unwrap_or(0),
            })
            .collect(),
    }
}

fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Flood-only advertisements per day.
pub(super) async fn advert_activity(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    days: i64,
) -> Result<DailySeries, ApiError> {
    let window = DayWindow::new(days, today());
    let counts = flood_advert_days(db, kept, &window.dates).await?;
    Ok(series(&window, &counts))
}

/// Raw packets per day.
pub(super) async fn packet_activity(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    days: i64,
) -> Result<DailySeries, ApiError> {
    let window = DayWindow::new(days, today());
    let counts = packet_days(db, kept, &window.dates).await?;
    Ok(series(&window, &counts))
}

/// Messages `role` may read, per day.
pub(super) async fn message_activity(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    role: Role,
    days: i64,
) -> Result<DailySeries, ApiError> {
    let window = DayWindow::new(days, today());
    let visible = visible_channels(db, role).await?;
    let counts = visible_message_days(db, kept, &visible, &window.dates).await?;
    Ok(series(&window, &counts))
}

/// Nodes in existence at the end of each day, by `created_at`.
pub(super) async fn node_count(
    db: &DatabaseConnection,
    days: i64,
) -> Result<DailySeries, ApiError> {
    let window = DayWindow::new(days, today());
    if window.dates.is_empty() {
        return Ok(series(&window, &HashMap::new()));
    }
    // Two queries instead of one COUNT per day: nodes before the window, then new nodes
    // per day inside it, accumulated below.
    let before = count_rows(
        db,
        nodes::Entity::find().filter(nodes::Column::CreatedAt.lt(window.start)),
    )
    .await?;
    let (first, last) = (window.dates[0], window.dates[window.dates.len() - 1]);
    let column = nodes::Column::CreatedAt;
    let new_per_day = counts_by_day(db, nodes::Entity::find(), column, first, last).await?;
    let mut running = before;
    let mut out = series(&window, &new_per_day);
    for point in &mut out.data {
        running += point.count;
        point.count = running;
    }
    Ok(out)
}

/// Raw packets of the window by event type and by path hash width.
pub(super) async fn packet_breakdown(
    db: &DatabaseConnection,
    kept: &DashboardDays,
    days: i64,
) -> Result<PacketBreakdown, ApiError> {
    let window = DayWindow::new(days, today());
    // Per day and both columns, split into the two breakdowns in Rust: one pass over the
    // covering (received_at, event_type, path_hash_bytes) index for the days not kept yet.
    let reader = db.clone();
    let per_day = kept
        .packet_kinds
        .get_or_fetch(
            "packet-breakdown",
            day_counts::counted_tables::<raw_packets::Entity>(),
            &window.dates,
            Vec::new(),
            move |first, last| async move {
                let span = DayWindow::span(first, last);
                let day = day_sql("raw_packets", raw_packets::Column::ReceivedAt.as_str());
                let rows: Vec<DayPacketKindCount> = raw_packets::Entity::find()
                    .filter(raw_packets::Column::ReceivedAt.gte(span.start))
                    .filter(raw_packets::Column::ReceivedAt.lt(span.end))
                    .select_only()
                    .column_as(Expr::cust(day.clone()), "day")
                    .column(raw_packets::Column::EventType)
                    .column(raw_packets::Column::PathHashBytes)
                    .column_as(Expr::cust("COUNT(*)"), "n")
                    .group_by(Expr::cust(day))
                    .group_by(raw_packets::Column::EventType)
                    .group_by(raw_packets::Column::PathHashBytes)
                    .into_tuple()
                    .all(&reader)
                    .await?;
                let mut by_day: HashMap<NaiveDate, Vec<PacketKindCount>> = HashMap::new();
                for (day, event_type, width, n) in rows {
                    if let Some(day) = day.as_deref().and_then(parse_day) {
                        by_day.entry(day).or_default().push((event_type, width, n));
                    }
                }
                Ok::<_, DbErr>(by_day)
            },
        )
        .await?;
    let rows: Vec<PacketKindCount> = per_day.into_values().flatten().collect();
    let widths: Vec<(Option<i32>, i64)> = rows.iter().map(|(_, w, n)| (*w, *n)).collect();
    let events: Vec<(Option<String>, i64)> = rows.into_iter().map(|(e, _, n)| (e, n)).collect();
    Ok(PacketBreakdown {
        days: window.days,
        by_event_type: top_event_types(events),
        by_path_width: path_widths(&widths),
    })
}

/// The top [`TOP_EVENT_TYPES`] event types by count desc, then label; the rest as `other`.
///
/// NULL is labelled `unknown` and merged with a literal `unknown`, so one label never
/// appears twice.
fn top_event_types(rows: Vec<(Option<String>, i64)>) -> Vec<LabelCount> {
    let mut by_label: HashMap<String, i64> = HashMap::new();
    for (label, count) in rows {
        *by_label
            .entry(label.unwrap_or_else(|| UNKNOWN_EVENT_TYPE.to_string()))
            .or_default() += count;
    }
    let mut buckets: Vec<LabelCount> = by_label
        .into_iter()
        .map(|(label, count)| LabelCount { label, count })
        .collect();
    buckets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    if buckets.len() > TOP_EVENT_TYPES {
        let other = buckets
            .split_off(TOP_EVENT_TYPES)
            .iter()
            .map(|b| b.count)
            .sum();
        buckets.push(LabelCount {
            label: "other".to_string(),
            count: other,
        });
    }
    buckets
}

/// `1b`, `2b`, `3b` counts from `(path_hash_bytes, count)` rows; other widths are ignored.
fn path_widths(rows: &[(Option<i32>, i64)]) -> Vec<LabelCount> {
    (1..=3)
        .map(|width| LabelCount {
            label: format!("{width}b"),
            count: rows
                .iter()
                .filter(|(w, _)| *w == Some(width))
                .map(|(_, n)| n)
                .sum(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_excludes_today_and_clamps() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default();
        let w = DayWindow::new(3, today);
        assert_eq!(w.days, 3);
        let dates: Vec<String> = w.dates.iter().map(|d| format_date(*d)).collect();
        assert_eq!(dates, ["2026-02-27", "2026-02-28", "2026-03-01"]);
        assert_eq!(w.end.to_string(), "2026-03-02 00:00:00");
        assert_eq!(w.start.to_string(), "2026-02-27 00:00:00");
        assert_eq!(DayWindow::new(500, today).dates.len(), 90);
        assert_eq!(DayWindow::new(-4, today).days, 0);
        assert!(DayWindow::new(0, today).dates.is_empty());
    }

    #[test]
    fn event_types_keep_top_six_then_other() {
        let rows = vec![
            (Some("a".to_string()), 5),
            (Some("b".to_string()), 9),
            (None, 2),
            (Some("unknown".to_string()), 1),
            (Some("c".to_string()), 5),
            (Some("d".to_string()), 4),
            (Some("e".to_string()), 1),
            (Some("f".to_string()), 1),
            (Some("g".to_string()), 1),
        ];
        let got: Vec<(String, i64)> = top_event_types(rows)
            .into_iter()
            .map(|b| (b.label, b.count))
            .collect();
        let want: Vec<(String, i64)> = [
            ("b", 9),
            ("a", 5),
            ("c", 5),
            ("d", 4),
            ("unknown", 3),
            ("e", 1),
            ("other", 2),
        ]
        .iter()
        .map(|(l, n)| (l.to_string(), *n))
        .collect();
        assert_eq!(got, want);
        assert_eq!(top_event_types(vec![(None, 1)]).len(), 1);
    }

    #[test]
    fn path_widths_are_always_three() {
        let got = path_widths(&[(Some(2), 4), (Some(7), 1), (None, 3)]);
        let labels: Vec<&str> = got.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["1b", "2b", "3b"]);
        let counts: Vec<i64> = got.iter().map(|b| b.count).collect();
        assert_eq!(counts, [0, 4, 0]);
    }
}
