//! The `total` of the group list (the number of packet hashes with a matching row in the
//! window) without grouping the whole window on every request.
//!
//! Invariant. Count each hash once, at its first matching row in the window `[s, u]`. Cut
//! the window at whole UTC hours: a head `[s, h0)` (`h0` the first hour boundary at or after
//! `s`), hours `[h, h + 1)` that lie wholly inside the window and ended at least [`GRACE`]
//! ago, and a tail of the rest. A hash whose first row in the window lies in a kept hour `b`
//! has a row in `b` and none in `[s, start(b))`; of the hashes with a row in `b`, exactly
//! those with an earlier row (at any time) whose latest earlier row is at or after `s` have
//! one in `[s, start(b))`. So, for one row filter (the list's row condition without the
//! window),
//!
//! `total = distinct(head) + Σ_b (hashes(b) − #{p ∈ earlier(b) : p ≥ s}) + tail`,
//!
//! where `hashes(b)` is the number of hashes with a row in `b`, `earlier(b)` the latest row
//! before `b` of each of them that has one (looked for only as far back as any `s` that
//! hour serves: [`EARLIER_LOOKBACK`]), and `tail` the hashes with a row in the tail and
//! none in `[s, tail start)`. The head and the tail are counted on each request; `hashes(b)`
//! and `earlier(b)` depend only on the filter and the hour, not on `s` or `u`, so they are
//! kept per (filter SQL with its values, hour) like the dashboard's days ([`GROUP_TABLES`]):
//! a late row or a retention delete renews them when the data-change watcher reports it.
//! Hours are kept only once over (plus [`GRACE`] for rows still being written).
//!
//! `path_hash_bytes = w` is a HAVING over all of a group's rows in the window (`MAX(width) =
//! w`), which does not decompose by hour itself; but a group's widest row is `w` exactly when
//! it has a row at least `w` wide and none at least `w + 1` wide, so its total is the
//! difference of two row-filter totals (`rows_at_least_bytes`), each counted as above.
//! A `search` is kept like any row filter: its observers are resolved to ids per request
//! (`resolve_search_observers`), so its SQL, and so its key, names exactly the rows it
//! reads. Windows reaching more than [`MAX_KEPT_HOURS`] back are counted by grouping the
//! window.

use super::query::{
    CHUNK, GroupFilters, count_groups_by_sql, hash_rows_filter, row_condition, row_filter, window,
};
use crate::error::ApiError;
use crate::params::{Bound, datetime_bound, sql};
use crate::query::day_counts::{ceil_hour, floor_hour};
use crate::query::group_hours::{GroupHours, HourGroups};
use crate::query::past_days::MissingBuckets;
use chrono::{Duration, NaiveDateTime};
use hub_core::entity::raw_packets;
use hub_core::tables::Table;
use hub_core::time::Timestamp;
use sea_orm::sea_query::{Alias, Expr, PostgresQueryBuilder, Query, SqliteQueryBuilder};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait,
};
use std::collections::{BTreeSet, HashMap};

/// The tables a kept hour is counted from: the packets, and the observers and path hops its
/// row filter may read.
const GROUP_TABLES: &[Table] = &[
    Table::RawPackets,
    Table::EventObservers,
    Table::PacketPathHops,
];

/// How long after its end an hour is first kept: rows stamped just before the hour may still
/// be on their way into the database when it ends.
pub(crate) const GRACE: Duration = Duration::minutes(2);

/// Windows with more whole hours than this (`since` over a month back) are counted by
/// grouping, which bounds the kept entries of one filter.
const MAX_KEPT_HOURS: i64 = 32 * 24;

/// How far before the first hour it reads [`read_hours`] looks for a hash's earlier rows.
///
/// A kept hour `b` only serves windows of at most [`MAX_KEPT_HOURS`] whole hours that reach
/// it, whose `since` is therefore later than `b - MAX_KEPT_HOURS - 1 h`. An earlier row
/// before that is before every such `since`, so it is never subtracted: the same as no
/// earlier row at all. Reading from here on keeps the counts exact and bounds each read by
/// the window, not the whole history.
const EARLIER_LOOKBACK: Duration = Duration::hours(MAX_KEPT_HOURS + 24);

/// The number of groups in the list of `filters`, as the grouped query counts them, with
/// hours that ended before `now` (less [`GRACE`]) read from `kept` when there.
pub(super) async fn count_groups(
    db: &DatabaseConnection,
    kept: &GroupHours,
    filters: &GroupFilters,
    now: NaiveDateTime,
) -> Result<u64, ApiError> {
    let Some(width) = filters.path_hash_bytes else {
        return match from_kept_hours(db, kept, filters, now).await? {
            Ok(total) => Ok(total),
            // Reading every hour of a filter costs more than grouping the window once: this
            // request groups, then the hours are read in the background for the next ones.
            Err(missing) => {
                let total = grouped_hashes(db, filters).await?;
                missing.read_in_background();
                Ok(total)
            }
        };
    };
    if !matches!(cut(filters, now), Cut::Kept(_)) {
        return count_groups_by_sql(db, filters).await;
    }
    let at_least = |bytes| GroupFilters {
        path_hash_bytes: None,
        rows_at_least_bytes: Some(bytes),
        ..filters.clone()
    };
    let (wide, wider) = (at_least(width), at_least(width + 1));
    match (
        from_kept_hours(db, kept, &wide, now).await?,
        from_kept_hours(db, kept, &wider, now).await?,
    ) {
        (Ok(wide), Ok(wider)) => Ok(wide.saturating_sub(wider)),
        (kept_wide, kept_wider) => {
            let (wide, wider) = tokio::try_join!(
                Box::pin(grouped_hashes(db, &wide)),
                Box::pin(grouped_hashes(db, &wider))
            )?;
            let total = wide.saturating_sub(wider);
            for missing in [kept_wide.err(), kept_wider.err()].into_iter().flatten() {
                missing.read_in_background();
            }
            Ok(total)
        }
    }
}

/// The number of packet hashes of the rows of `filters` (without `path_hash_bytes`) in its
/// window, by grouping them.
///
/// On SQLite a filtered window groups by `+packet_hash`: the same groups, but given the
/// column, SQLite walks the whole packet hash index in order and looks up every row (1.1 s
/// for a `search` at `large`), where the expression lets it read the window's range and
/// group what matched (0.2 s). The unfiltered window keeps the column: its hashes and times
/// are all in one covering index.
async fn grouped_hashes(db: &DatabaseConnection, filters: &GroupFilters) -> Result<u64, ApiError> {
    let backend = db.get_database_backend();
    let unfiltered = filters.search.is_none()
        && filters.event_type.is_none()
        && filters.channel_idx.is_none()
        && filters.rows_at_least_bytes.is_none();
    let hash = match backend {
        DbBackend::Sqlite if !unfiltered => Expr::cust("+raw_packets.packet_hash"),
        _ => Expr::col((raw_packets::Entity, raw_packets::Column::PacketHash)),
    };
    let hashes = raw_packets::Entity::find()
        .filter(row_condition(backend, filters))
        .select_only()
        .column_as(hash.clone(), "packet_hash")
        .group_by(hash);
    Ok(hashes.count(db).await?)
}

/// The hours of one row filter that [`from_kept_hours`] found missing, and their read.
type MissingHours = MissingBuckets<NaiveDateTime, HourGroups, HoursReader>;

/// The number of groups of `filters` (without `path_hash_bytes`) from its kept hours, or the
/// hours not kept yet, for the caller to have read once it has answered. Windows with no
/// whole hour, or too many, are counted at once.
async fn from_kept_hours(
    db: &DatabaseConnection,
    kept: &GroupHours,
    filters: &GroupFilters,
    now: NaiveDateTime,
) -> Result<Result<u64, MissingHours>, ApiError> {
    let backend = db.get_database_backend();
    let since = filters.since;
    let KeptSpan {
        head_end,
        tail_start,
        hours,
    } = match cut(filters, now) {
        Cut::Kept(span) => span,
        Cut::Short => {
            return Ok(Ok(
                distinct_hashes(db, row_condition(backend, filters)).await?
            ));
        }
        Cut::Long => return Ok(Ok(count_groups_by_sql(db, filters).await?)),
    };
    let key = filter_key(backend, filters);
    let read = hours_reader(db, filters);
    let kept_hours = match kept
        .kept_or_missing(&key, GROUP_TABLES, &hours, HourGroups::default(), read)
        .await?
    {
        Ok(kept_hours) => kept_hours,
        Err(missing) => return Ok(Err(missing)),
    };
    let mut total = 0;
    if since < head_end {
        total += distinct_hashes(
            db,
            row_condition(backend, filters).add(before(backend, head_end)),
        )
        .await?;
    }
    for hour in kept_hours.values() {
        let counted_before = hour.earlier.iter().filter(|at| **at >= since).count();
        total += (hour.hashes - counted_before as i64).max(0) as u64;
    }
    total += tail_groups(db, filters, tail_start).await?;
    Ok(Ok(total))
}

/// Reads the kept hours of the list as it is first asked for (the default window ending
/// `now`, with no filter and with each `path_hash_bytes`, whose few values are known) unless
/// they are kept, waiting for the reads: `serve` calls it at startup, so that the first
/// requests after a start find them.
pub(super) async fn read_default_hours(
    db: &DatabaseConnection,
    kept: &GroupHours,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let unfiltered = GroupFilters::window(now - Duration::days(super::DEFAULT_WINDOW_DAYS), None);
    // `path_hash_bytes = w` reads the row filters "at least w" and "at least w + 1".
    let widths = (1..=super::MAX_PATH_HASH_BYTES + 1).map(|bytes| GroupFilters {
        rows_at_least_bytes: Some(bytes),
        ..unfiltered.clone()
    });
    for filters in std::iter::once(unfiltered.clone()).chain(widths) {
        if let Cut::Kept(span) = cut(&filters, now) {
            let key = filter_key(db.get_database_backend(), &filters);
            let read = hours_reader(db, &filters);
            kept.get_or_fetch(&key, GROUP_TABLES, &span.hours, HourGroups::default(), read)
                .await?;
        }
    }
    Ok(())
}

/// How a window is counted: a head before `head_end`, the whole hours between, which are
/// kept, and a tail from `tail_start`.
struct KeptSpan {
    head_end: NaiveDateTime,
    tail_start: NaiveDateTime,
    /// Every whole hour in `[head_end, tail_start)`, oldest first.
    hours: Vec<NaiveDateTime>,
}

/// How the window of `filters` is counted at `now`.
enum Cut {
    /// No whole hour to keep (the window is at most about two hours long): counted at once.
    Short,
    /// More whole hours than [`MAX_KEPT_HOURS`]: grouped at once.
    Long,
    /// Head and tail counted, the whole hours between kept.
    Kept(KeptSpan),
}

/// The [`Cut`] of the window of `filters`: its tail starts at the hour of its end, or of the
/// last moment kept hours may reach (`now` less [`GRACE`]).
fn cut(filters: &GroupFilters, now: NaiveDateTime) -> Cut {
    let over = now - GRACE;
    let head_end = ceil_hour(filters.since);
    let tail_start = floor_hour(filters.until.map_or(over, |until| until.min(over)));
    if head_end >= tail_start {
        return Cut::Short;
    }
    if (tail_start - head_end).num_hours() > MAX_KEPT_HOURS {
        return Cut::Long;
    }
    let hours = std::iter::successors(Some(head_end), |h| {
        Some(*h + Duration::hours(1)).filter(|next| *next < tail_start)
    })
    .collect();
    Cut::Kept(KeptSpan {
        head_end,
        tail_start,
        hours,
    })
}

/// A read of kept hours, as [`hours_reader`] starts it.
type HoursRead = std::pin::Pin<
    Box<dyn Future<Output = Result<HashMap<NaiveDateTime, HourGroups>, ApiError>> + Send>,
>;

/// The read of the hours `[first, last]` of one row filter that [`GroupHours`] calls.
type HoursReader = Box<dyn FnOnce(NaiveDateTime, NaiveDateTime) -> HoursRead + Send>;

/// The [`HoursReader`] of `filters`.
fn hours_reader(db: &DatabaseConnection, filters: &GroupFilters) -> HoursReader {
    let (reader, row_filters) = (db.clone(), filters.clone());
    Box::new(move |first, last| {
        Box::pin(async move {
            read_hours(&reader, &row_filters, first, last + Duration::hours(1)).await
        })
    })
}

/// Hashes with a matching row at or after `tail_start` and none in `[since, tail_start)`.
async fn tail_groups(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    tail_start: NaiveDateTime,
) -> Result<u64, ApiError> {
    let backend = db.get_database_backend();
    // Rows, not DISTINCT hashes: SQLite would read DISTINCT off the packet hash index,
    // walking all of it, where the tail is at most about an hour of rows.
    // The tail's own lower bound replaces `since` (never later): SQLite, given two lower
    // bounds as parameters, may start its index range at the earlier one.
    let tail = GroupFilters {
        since: tail_start,
        ..filters.clone()
    };
    let rows: Vec<String> = raw_packets::Entity::find()
        .filter(row_condition(backend, &tail))
        .select_only()
        .column(raw_packets::Column::PacketHash)
        .into_tuple()
        .all(db)
        .await?;
    let in_tail: Vec<String> = rows
        .into_iter()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let mut seen_before = 0;
    for chunk in in_tail.chunks(CHUNK) {
        let rows = hash_rows_filter(backend, filters, chunk)
            .add(window(backend, filters))
            .add(before(backend, tail_start));
        seen_before += distinct_hashes(db, rows).await?;
    }
    Ok(in_tail.len() as u64 - seen_before)
}

/// Distinct packet hashes of the rows `rows` keeps.
async fn distinct_hashes(db: &DatabaseConnection, rows: Condition) -> Result<u64, ApiError> {
    let count: Option<i64> = raw_packets::Entity::find()
        .filter(rows)
        .select_only()
        .column_as(Expr::cust("COUNT(DISTINCT raw_packets.packet_hash)"), "n")
        .into_tuple()
        .one(db)
        .await?;
    Ok(count.unwrap_or(0).max(0) as u64)
}

/// [`HourGroups`] of every hour in `[from, to)` (whole hours) that has matching rows.
///
/// One grouping of the matching rows before `to` (back to [`EARLIER_LOOKBACK`] before
/// `from`) by packet hash settles the hashes whose rows all lie in one hour of the span
/// (nearly all): they count in that hour and have no earlier row. The others (rows in several hours, or also before `from`) are few; their rows
/// are read and walked here.
async fn read_hours(
    db: &DatabaseConnection,
    filters: &GroupFilters,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<HashMap<NaiveDateTime, HourGroups>, ApiError> {
    let backend = db.get_database_backend();
    let span = before(backend, to).add(raw_packets::Column::ReceivedAt.gte(datetime_bound(
        backend,
        from - EARLIER_LOOKBACK,
        Bound::Lower,
    )));
    let rows = row_filter(backend, filters).add(span.clone());
    let first_hour = hour_text(backend, "MIN(raw_packets.received_at)");
    let last_hour = hour_text(backend, "MAX(raw_packets.received_at)");
    let per_hash = raw_packets::Entity::find()
        .filter(rows.clone())
        .select_only()
        .column(raw_packets::Column::PacketHash)
        .column_as(Expr::cust(first_hour.clone()), "first_hour")
        .column_as(
            sql(
                backend,
                &format!("MIN(raw_packets.received_at) >= ? AND {first_hour} = {last_hour}"),
                [datetime_bound(backend, from, Bound::Lower)],
            ),
            "one_hour",
        )
        .group_by(raw_packets::Column::PacketHash)
        .having(sql(
            backend,
            "MAX(raw_packets.received_at) >= ?",
            [datetime_bound(backend, from, Bound::Lower)],
        ))
        .into_query();
    // One row per hour for the settled hashes (hash NULL), one per other hash.
    let by_hour = Query::select()
        .expr_as(
            Expr::cust("CASE WHEN g.one_hour THEN NULL ELSE g.packet_hash END"),
            Alias::new("other_hash"),
        )
        .expr_as(
            Expr::cust("CASE WHEN g.one_hour THEN g.first_hour END"),
            Alias::new("hour"),
        )
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("hashes"))
        .from_subquery(per_hash, Alias::new("g"))
        .add_group_by([Expr::cust("1"), Expr::cust("2")])
        .to_owned();

    let mut hours: HashMap<NaiveDateTime, HourGroups> = HashMap::new();
    let mut others = Vec::new();
    for row in db.query_all(&by_hour).await? {
        let other: Option<String> = row.try_get("", "other_hash")?;
        let hour: Option<String> = row.try_get("", "hour")?;
        let count: i64 = row.try_get("", "hashes")?;
        match (other, hour.as_deref().and_then(parse_hour)) {
            (Some(hash), _) => others.push(hash),
            (None, Some(hour)) => hours.entry(hour).or_default().hashes += count,
            (None, None) => {
                let text = format!("packet groups: unreadable hour {hour:?}");
                return Err(sea_orm::DbErr::Type(text).into());
            }
        }
    }

    for chunk in others.chunks(CHUNK) {
        let mut times: Vec<(String, Timestamp)> = raw_packets::Entity::find()
            .filter(hash_rows_filter(backend, filters, chunk).add(span.clone()))
            .select_only()
            .column(raw_packets::Column::PacketHash)
            .column(raw_packets::Column::ReceivedAt)
            .into_tuple()
            .all(db)
            .await?;
        times.sort();
        let mut previous: Option<(&str, NaiveDateTime)> = None;
        for (hash, at) in &times {
            let at = at.0;
            let earlier = previous.filter(|(h, _)| h == hash).map(|(_, t)| t);
            previous = Some((hash, at));
            if at < from {
                continue;
            }
            // The first row of this hash in its hour: the row before it is in an earlier hour.
            let hour = floor_hour(at);
            if earlier.is_some_and(|t| t >= hour) {
                continue;
            }
            let entry = hours.entry(hour).or_default();
            entry.hashes += 1;
            entry.earlier.extend(earlier);
        }
    }
    Ok(hours)
}

/// `received_at < at`, for any time `at` (its shortest text on SQLite sorts first).
fn before(backend: DbBackend, at: NaiveDateTime) -> Condition {
    Condition::all().add(raw_packets::Column::ReceivedAt.lt(datetime_bound(
        backend,
        at,
        Bound::Lower,
    )))
}

/// SQL of the UTC hour of the time `expr`, as `YYYY-MM-DD HH` text.
fn hour_text(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"),
        // Times are stored as `YYYY-MM-DD HH:MM:SS[.f]` text.
        _ => format!("substr({expr}, 1, 13)"),
    }
}

/// The hour start of a [`hour_text`] value.
fn parse_hour(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(&format!("{text}:00:00"), "%Y-%m-%d %H:%M:%S").ok()
}

/// What the kept hours of `filters` depend on: the row filter's SQL with its values.
fn filter_key(backend: DbBackend, filters: &GroupFilters) -> String {
    let select = raw_packets::Entity::find()
        .select_only()
        .column(raw_packets::Column::Id)
        .filter(row_filter(backend, filters))
        .into_query();
    match backend {
        DbBackend::Postgres => select.to_string(PostgresQueryBuilder),
        _ => select.to_string(SqliteQueryBuilder),
    }
}
