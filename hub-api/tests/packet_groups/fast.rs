//! `/api/v1/packet-groups` without grouping the whole window: the time-sorted page (a walk
//! over the window's rows) and the total (kept per-hour counts) must equal, item for item,
//! what grouping every row of the window returns, on a seeded network plus rows made to hit
//! the edge cases (a hash across an hour boundary, a hash heard again days later, groups
//! sharing one `received_at`).

use crate::common;

use chrono::{Duration, NaiveDateTime};
use common::*;
use hub_api::params::Order;
use hub_api::query::group_hours::GroupHours;
use hub_api::routes::packet_groups::{GroupFilters, GroupSort, list_groups, list_groups_by_sql};
use hub_api::seed::{self, Scale, SeedArgs};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The seeded network's "now" (mid-hour, with a fraction, so windows start mid-hour).
fn anchor() -> NaiveDateTime {
    hub_core::time::parse_datetime_param("2026-11-20T12:34:56.123456Z").unwrap()
}

fn at(text: &str) -> NaiveDateTime {
    hub_core::time::parse_datetime_param(text).unwrap()
}

/// Adds rows for the edge cases: one hash heard just before and just after 09:00 (two days
/// before the anchor), one heard 3 days apart, and 150 hashes first heard at one instant.
async fn add_edge_rows(db: &DatabaseConnection) {
    let backend = db.get_database_backend();
    let mut rows: Vec<(String, String, NaiveDateTime, Option<i64>, i64)> = Vec::new();
    let straddle = at("2026-11-18T08:59:59.600000Z");
    rows.push(("straddle".into(), "1".into(), straddle, Some(3), 1));
    rows.push((
        "straddle".into(),
        "2".into(),
        straddle + Duration::milliseconds(900),
        Some(3),
        2,
    ));
    // A hash first heard in the middle of an hour and again a few hours later.
    let split = at("2026-11-18T10:15:00Z");
    rows.push(("split".into(), "1".into(), split, None, 1));
    rows.push((
        "split".into(),
        "2".into(),
        split + Duration::hours(3),
        None,
        3,
    ));
    let again = at("2026-11-14T07:00:00Z");
    rows.push(("again".into(), "1".into(), again, Some(3), 1));
    rows.push((
        "again".into(),
        "2".into(),
        again + Duration::days(3),
        Some(3),
        1,
    ));
    rows.push((
        "again".into(),
        "3".into(),
        again + Duration::days(3) + Duration::seconds(2),
        Some(3),
        2,
    ));
    // Heard again long after: its first hearing is older than any kept hour looks back
    // (`EARLIER_LOOKBACK`), so only windows that reach it may count it there.
    let long_ago = at("2026-10-01T12:00:00Z");
    rows.push(("longago".into(), "1".into(), long_ago, Some(3), 1));
    rows.push((
        "longago".into(),
        "2".into(),
        at("2026-11-16T12:30:00Z"),
        Some(3),
        1,
    ));
    // More groups at one instant than a short walk reads, so walks stop inside the tie.
    let tie = at("2026-11-19T16:20:00Z");
    // Inserted in descending hash order: walks meet tied rows in storage order, so a walk
    // stopping inside the tie has met the groups that sort last (both ways).
    for n in (0..150).rev() {
        let hash = format!("tie{n:03}");
        rows.push((hash.clone(), "1".into(), tie, Some(3), 1 + n % 2));
        if n % 3 == 0 {
            rows.push((hash, "2".into(), tie + Duration::seconds(n), Some(3), 2));
        }
    }
    // Ties at exactly an hour boundary.
    let boundary = at("2026-11-19T18:00:00Z");
    for n in 0..4 {
        rows.push((format!("edge{n}"), "1".into(), boundary, None, 1));
    }
    for (hash, suffix, received, channel, width) in rows {
        let time = match backend {
            DbBackend::Sqlite => format!("'{}'", received.format("%Y-%m-%d %H:%M:%S%.6f")),
            _ => format!("'{}+00'", received.format("%Y-%m-%d %H:%M:%S%.6f")),
        };
        let channel = channel.map_or("NULL".to_string(), |c| c.to_string());
        let sql = format!(
            "INSERT INTO raw_packets (id, packet_hash, event_type, channel_idx, path_hash_bytes, \
             received_at, created_at, updated_at) VALUES ('edge-{hash}-{suffix}', \
             'ffff{hash}', 'channel_msg_recv', {channel}, {width}, {time}, {time}, {time})"
        );
        db.execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
    }
}

async fn seeded(db: &DatabaseConnection) {
    let args = SeedArgs {
        scale: Scale::Small,
        anchor: Some(anchor()),
        ..SeedArgs::default()
    };
    seed::seed_database(db, &args).await.unwrap();
    add_edge_rows(db).await;
}

fn filters(since: NaiveDateTime, until: Option<NaiveDateTime>) -> GroupFilters {
    GroupFilters::window(since, until)
}

/// Every combination of row filters, windows, orders and pages: the fast list equals the
/// grouped one, items and total, with the kept hours shared across all of them (as on a
/// server) and also freshly read.
async fn assert_same_as_grouping(db: &DatabaseConnection) {
    let now = anchor();
    let kept = GroupHours::default();
    let windows: Vec<(NaiveDateTime, Option<NaiveDateTime>)> = vec![
        // First, so that the hours it keeps serve the longer windows after it: those must
        // still subtract the hashes heard before this `since` (the "again" hash, 2 days
        // before; see EARLIER_LOOKBACK).
        (at("2026-11-16T00:00:00Z"), None),
        // The default window: 7 days back, mid-hour.
        (now - Duration::days(7), None),
        // On the hour, ending in the past mid-hour.
        (at("2026-11-14T07:00:00Z"), Some(at("2026-11-19T16:20:00Z"))),
        // Starting and ending at the instant 150 groups share.
        (at("2026-11-19T16:20:00Z"), Some(at("2026-11-19T16:20:00Z"))),
        (at("2026-11-19T16:20:00Z"), Some(at("2026-11-19T17:20:00Z"))),
        // Starting just after the straddling hash's first row, so only its second counts.
        (
            at("2026-11-18T08:59:59.700000Z"),
            Some(now - Duration::hours(5)),
        ),
        (at("2026-11-18T09:00:00Z"), None),
        // Starting between the hash heard again 3 days later and its second hearing.
        (at("2026-11-15T00:30:00Z"), Some(at("2026-11-17T07:00:01Z"))),
        // Shorter than two hours: nothing to keep.
        (now - Duration::minutes(90), None),
        // A month back (past what is kept: grouped as before).
        (now - Duration::days(40), None),
        // Ending before it starts.
        (now - Duration::days(2), Some(now - Duration::days(3))),
    ];
    type Adjust = fn(&mut GroupFilters);
    let adjustments: Vec<(&str, Adjust)> = vec![
        ("none", |_| {}),
        ("channel 3", |f| f.channel_idx = Some(3)),
        ("channel 0", |f| f.channel_idx = Some(0)),
        ("event type", |f| {
            f.event_type = Some("channel_msg_recv".into())
        }),
        ("advert", |f| f.event_type = Some("advertisement".into())),
        ("search", |f| f.search = Some("ff".into())),
        ("search observer", |f| f.search = Some("tower".into())),
        ("width 1", |f| f.path_hash_bytes = Some(1)),
        ("width 2", |f| f.path_hash_bytes = Some(2)),
        ("width 2, channel 3", |f| {
            f.path_hash_bytes = Some(2);
            f.channel_idx = Some(3);
        }),
        ("width 3", |f| f.path_hash_bytes = Some(3)),
    ];
    let mut compared = 0;
    let mut nonempty_pages = 0;
    for (since, until) in &windows {
        for (name, adjust) in &adjustments {
            let mut f = filters(*since, *until);
            adjust(&mut f);
            for sort in [GroupSort::Time, GroupSort::ReceptionCount] {
                for order in [Order::Desc, Order::Asc] {
                    for (limit, offset) in [(1, 0), (20, 0), (20, 7), (100, 50), (7, 0), (1, 13)] {
                        let expected = list_groups_by_sql(db, &f, sort, order, limit, offset)
                            .await
                            .unwrap();
                        let context = format!(
                            "{name}, {since}..{until:?}, {sort:?} {order:?}, limit {limit} \
                             offset {offset}"
                        );
                        let shared = list_groups(db, &kept, &f, sort, order, limit, offset, now)
                            .await
                            .unwrap();
                        assert_eq!(shared, expected, "{context}");
                        let fresh = GroupHours::default();
                        let alone = list_groups(db, &fresh, &f, sort, order, limit, offset, now)
                            .await
                            .unwrap();
                        assert_eq!(alone, expected, "{context} (nothing kept)");
                        compared += 1;
                        nonempty_pages += usize::from(!expected.0.is_empty());
                    }
                }
            }
        }
    }
    assert!(compared > 1000, "{compared}");
    assert!(
        nonempty_pages > compared / 2,
        "{nonempty_pages} of {compared}"
    );
}

#[tokio::test]
async fn fast_list_equals_grouping_on_sqlite() {
    let app = empty_app().await;
    seeded(&app.db).await;
    assert!(app.scalar("SELECT COUNT(*) FROM raw_packets").await > 1000);
    assert_same_as_grouping(&app.db).await;
}

#[tokio::test]
async fn fast_list_equals_grouping_on_postgres() {
    let pg = hub_core::test_support::PostgresServer::start();
    let db = hub_core::db::connect(&pg.url()).await.unwrap();
    hub_core::db::prepare_schema(&db).await.unwrap();
    seeded(&db).await;
    assert_same_as_grouping(&db).await;
}

/// Kept hours answer for the rows as they were read; a row added to a kept hour later is
/// counted by grouping but not by the kept hours (for at most the kept time), like the
/// dashboard's kept days. Hours read after the change count it.
#[tokio::test]
async fn kept_hours_are_reused() {
    let app = empty_app().await;
    seeded(&app.db).await;
    let now = anchor();
    let kept = GroupHours::default();
    let f = filters(now - Duration::days(7), None);
    let first = list_groups(&app.db, &kept, &f, GroupSort::Time, Order::Desc, 20, 0, now)
        .await
        .unwrap();
    app.exec(
        "INSERT INTO raw_packets (id, packet_hash, received_at, created_at, updated_at) VALUES \
         ('late', 'late', '2026-11-17 05:00:00.000000', '2026-11-17 05:00:00', \
         '2026-11-17 05:00:00')",
    )
    .await;
    let again = list_groups(&app.db, &kept, &f, GroupSort::Time, Order::Desc, 20, 0, now)
        .await
        .unwrap();
    assert_eq!(again.1, first.1);
    let fresh = GroupHours::default();
    let reread = list_groups(
        &app.db,
        &fresh,
        &f,
        GroupSort::Time,
        Order::Desc,
        20,
        0,
        now,
    )
    .await
    .unwrap();
    assert_eq!(reread.1, first.1 + 1);
}

/// The hours kept for a search depend on which observers' names match it, a table they are
/// not renewed for: renaming an observer out of the search gives another filter, whose
/// hours are read anew, so the total stays the grouped one.
#[tokio::test]
async fn a_renamed_observer_leaves_the_kept_hours_of_a_search() {
    let app = empty_app().await;
    seeded(&app.db).await;
    let now = anchor();
    let kept = GroupHours::default();
    let mut f = filters(now - Duration::days(7), None);
    f.search = Some("tower".into());
    let (sort, order) = (GroupSort::Time, Order::Desc);
    let before = list_groups(&app.db, &kept, &f, sort, order, 20, 0, now)
        .await
        .unwrap();
    assert_eq!(
        before,
        list_groups_by_sql(&app.db, &f, sort, order, 20, 0)
            .await
            .unwrap()
    );
    app.exec("UPDATE nodes SET name = 'renamed' WHERE LOWER(name) LIKE '%tower%'")
        .await;
    let after = list_groups(&app.db, &kept, &f, sort, order, 20, 0, now)
        .await
        .unwrap();
    let grouped = list_groups_by_sql(&app.db, &f, sort, order, 20, 0)
        .await
        .unwrap();
    assert_eq!(after, grouped);
    assert!(after.1 < before.1, "the rename took rows out of the search");
}

/// As the server keeps them (`filled_in_background`), missing hours are not read on the
/// request that needs them: it groups the window as before, and the hours are read on a task
/// of their own, after which they answer (a row added since shows only by grouping).
#[tokio::test]
async fn missing_hours_are_read_in_the_background() {
    let app = empty_app().await;
    seeded(&app.db).await;
    let now = anchor();
    let kept = GroupHours::default().filled_in_background();
    let (sort, order) = (GroupSort::Time, Order::Desc);
    // The request that finds hours missing counts by grouping, for any row filter.
    for adjust in [
        |_: &mut GroupFilters| {},
        |f: &mut GroupFilters| f.channel_idx = Some(3),
        |f: &mut GroupFilters| f.event_type = Some("advertisement".into()),
        |f: &mut GroupFilters| f.path_hash_bytes = Some(1),
    ] {
        let mut f = filters(now - Duration::days(6), Some(now - Duration::hours(30)));
        adjust(&mut f);
        let expected = list_groups_by_sql(&app.db, &f, sort, order, 20, 0)
            .await
            .unwrap();
        let answered = list_groups(&app.db, &kept, &f, sort, order, 20, 0, now)
            .await
            .unwrap();
        assert_eq!(answered, expected, "{f:?}");
        assert!(expected.1 > 0, "{f:?}");
    }
    let f = filters(now - Duration::days(7), None);
    let expected = list_groups_by_sql(&app.db, &f, sort, order, 20, 0)
        .await
        .unwrap();
    let first = list_groups(&app.db, &kept, &f, sort, order, 20, 0, now)
        .await
        .unwrap();
    assert_eq!(first, expected);
    kept.settled().await;
    app.exec(
        "INSERT INTO raw_packets (id, packet_hash, received_at, created_at, updated_at) VALUES \
         ('late', 'late', '2026-11-17 05:00:00.000000', '2026-11-17 05:00:00', \
         '2026-11-17 05:00:00')",
    )
    .await;
    let again = list_groups(&app.db, &kept, &f, sort, order, 20, 0, now)
        .await
        .unwrap();
    assert_eq!(again.1, first.1, "the hours read in the background answer");
    let grouped = list_groups_by_sql(&app.db, &f, sort, order, 20, 0)
        .await
        .unwrap();
    assert_eq!(grouped.1, first.1 + 1);
}
