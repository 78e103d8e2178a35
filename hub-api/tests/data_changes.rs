//! Changes hub did not make reach what it serves (docs/caching.md, "Freshness by data"): rows
//! written to the database by another connection, shaped as MeshCore Hub's collector writes
//! them, show in cached answers and in kept past-day counts within the watch's bound, with
//! Redis and without, on SQLite and PostgreSQL.

use crate::common;

use chrono::{Duration as Days, NaiveDateTime};
use common::*;
use hub_core::db::DatabaseTarget;
use hub_core::test_support::RedisServer;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::time::{Duration, Instant};

/// The watch's interval in these tests; the bound a change must show within is this plus a
/// check and a request, far below it.
const INTERVAL: Duration = Duration::from_millis(50);
/// How long a SQLite change may take to show.
const BOUND: Duration = Duration::from_millis(1500);

/// A channel message on the public channel, as the collector inserts it, heard at `at`.
fn message_sql(text: &str, at: NaiveDateTime) -> String {
    let id = uuid::Uuid::new_v4();
    let hash = format!("{:032x}", uuid::Uuid::new_v4().as_u128());
    format!(
        "INSERT INTO messages (id, message_type, channel_idx, pubkey_prefix, text, received_at, \
         created_at, updated_at, event_hash) VALUES ('{id}', 'channel', 17, 'A1FA00000000', \
         '{text}', '{at}', '{now}', '{now}', '{hash}')",
        now = hub_core::time::now(),
    )
}

/// Polls `uri` until `seen` holds for its JSON body; the time that took, or `None` after
/// `deadline`.
async fn shows_within(
    app: &TestApp,
    uri: &str,
    deadline: Duration,
    seen: impl Fn(&serde_json::Value) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if seen(&app.json(uri).await) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Whether the message list holds a message with `text`.
fn lists(text: &'static str) -> impl Fn(&serde_json::Value) -> bool {
    move |list| {
        list["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|m| m["text"] == text))
    }
}

/// The count of `day` in a daily series.
fn count_on(series: &serde_json::Value, day: chrono::NaiveDate) -> i64 {
    series["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["date"] == day.to_string())
        .map_or(0, |p| p["count"].as_i64().unwrap())
}

/// A second connection to the SQLite file of `app`, as the collector holds one.
async fn collector(app: &TestApp) -> DatabaseConnection {
    hub_core::db::connect(&format!("sqlite://{}", app.path.display()))
        .await
        .unwrap()
}

/// An app over a copy of the fixture without Redis, whose watch ticks once an hour: what its
/// requests see of another connection's writes, they see because a kept count about to be
/// used asks the watch to look first.
async fn watched_hourly() -> (TestApp, tokio::task::JoinHandle<()>) {
    let (dir, path, db) = fixture_copy().await;
    let state = default_state(db);
    let watch = hub_core::changes::watch(
        DatabaseTarget::url(format!("sqlite://{}", path.display())),
        state.cache.clone(),
        Duration::from_secs(3600),
    );
    (app_from_state(state, dir, path), watch)
}

#[tokio::test]
async fn a_collector_insert_ends_the_cached_answers_that_read_its_table() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let target = DatabaseTarget::url(format!("sqlite://{}", app.path.display()));
    let cache = redis_response_cache(redis.port());
    let watch = hub_core::changes::watch(target, cache, INTERVAL);

    let uri = "/api/v1/messages?limit=5";
    assert_eq!(x_cache_of(&app.get(uri).await), "MISS");
    assert_eq!(x_cache_of(&app.get(uri).await), "HIT");
    let nodes = "/api/v1/nodes";
    app.get(nodes).await;
    assert_eq!(x_cache_of(&app.get(nodes).await), "HIT");

    let writer = collector(&app).await;
    let now = hub_core::time::now();
    writer
        .execute_unprepared(&message_sql("heard just now", now))
        .await
        .unwrap();
    let took = shows_within(&app, uri, BOUND, lists("heard just now")).await;
    assert!(
        took.is_some(),
        "the new message did not show within {BOUND:?}"
    );
    // Only what read `messages` ended: the node list is still served from the cache.
    assert_eq!(x_cache_of(&app.get(nodes).await), "HIT");
    watch.abort();
}

#[tokio::test]
async fn without_redis_late_rows_and_retention_deletes_renew_the_kept_days() {
    // Two servers over one database, neither with Redis: one watches for changes, one does
    // not. Both keep the past days of the dashboard's series.
    let (dir, path, db) = fixture_copy().await;
    let state = default_state(db);
    // The watched app's kept values are checked against its cache's versions.
    let watch = hub_core::changes::watch(
        DatabaseTarget::url(format!("sqlite://{}", path.display())),
        state.cache.clone(),
        INTERVAL,
    );
    let watched = app_from_state(state, dir, path.clone());
    let unwatched = app_over(open_sqlite(&path).await);

    let uri = "/api/v1/dashboard/message-activity?days=30";
    let three_days_ago = hub_core::time::now() - Days::days(3);
    let day = three_days_ago.date();
    let before = count_on(&watched.json(uri).await, day);
    assert_eq!(count_on(&unwatched.json(uri).await, day), before);

    // A late row: heard three days ago, written now.
    let writer = collector(&watched).await;
    writer
        .execute_unprepared(&message_sql("late", three_days_ago))
        .await
        .unwrap();
    let took = shows_within(&watched, uri, BOUND, |s| count_on(s, day) == before + 1).await;
    assert!(took.is_some(), "the late row did not show within {BOUND:?}");
    // Without the watch the kept day stays as it was read: what the watch is for.
    assert_eq!(count_on(&unwatched.json(uri).await, day), before);

    // A retention delete of everything older than two days.
    let cut = hub_core::time::now() - Days::days(2);
    writer
        .execute_unprepared(&format!("DELETE FROM messages WHERE received_at < '{cut}'"))
        .await
        .unwrap();
    let took = shows_within(&watched, uri, BOUND, |s| count_on(s, day) == 0).await;
    assert!(
        took.is_some(),
        "the retention delete did not show within {BOUND:?}"
    );
    watch.abort();
}

#[tokio::test]
async fn without_redis_kept_days_see_every_change_committed_before_the_request() {
    // The watch ticks once an hour here: what the requests see, they see because a kept count
    // about to be used asks the watch to look first.
    let (app, watch) = watched_hourly().await;
    let uri = "/api/v1/dashboard/message-activity?days=30";
    let three_days_ago = hub_core::time::now() - Days::days(3);
    let day = three_days_ago.date();
    let before = count_on(&app.json(uri).await, day);

    let writer = collector(&app).await;
    for n in 1..=3 {
        writer
            .execute_unprepared(&message_sql("late", three_days_ago))
            .await
            .unwrap();
        assert_eq!(
            count_on(&app.json(uri).await, day),
            before + n,
            "late row {n}"
        );
    }
    let cut = hub_core::time::now() - Days::days(2);
    writer
        .execute_unprepared(&format!("DELETE FROM messages WHERE received_at < '{cut}'"))
        .await
        .unwrap();
    assert_eq!(
        count_on(&app.json(uri).await, day),
        0,
        "after the retention delete"
    );
    watch.abort();
}

#[tokio::test]
async fn without_redis_a_late_row_of_an_earlier_hour_shows_in_list_totals() {
    // A list total keeps its whole past days and today's hours before the current one; a row
    // heard an hour ago and written now reaches one of them, whatever the hour the test runs
    // (after 01:00 today's hours, before it yesterday's span).
    // The unwatched answers below hold within one hour: start well before the next.
    clear_of_the_next_hour(Duration::from_secs(30)).await;
    let (watched, watch) = watched_hourly().await;
    let unwatched = app_over(open_sqlite(&watched.path).await);
    let uri = "/api/v1/messages?limit=1";
    let total = |list: serde_json::Value| list["total"].as_u64().unwrap();
    let before = total(watched.json(uri).await);
    assert_eq!(total(unwatched.json(uri).await), before);

    let writer = collector(&watched).await;
    let heard = hub_core::time::now() - Days::minutes(61);
    writer
        .execute_unprepared(&message_sql("an hour late", heard))
        .await
        .unwrap();
    assert_eq!(total(watched.json(uri).await), before + 1, "the late row");
    // Without the watch the kept count stays as it was read: the row's hour is kept.
    assert_eq!(total(unwatched.json(uri).await), before);
    // A row of the current hour is counted by every request, watched or not.
    writer
        .execute_unprepared(&message_sql("just now", hub_core::time::now()))
        .await
        .unwrap();
    assert_eq!(total(watched.json(uri).await), before + 2, "the row of now");
    assert_eq!(total(unwatched.json(uri).await), before + 1);
    watch.abort();
}

#[tokio::test]
async fn without_redis_a_late_row_of_a_windows_first_day_shows_in_its_total() {
    // A window from mid-day keeps the whole hours of its first day after its first hour.
    clear_of_the_next_hour(Duration::from_secs(30)).await;
    let (watched, watch) = watched_hourly().await;
    let unwatched = app_over(open_sqlite(&watched.path).await);
    let first_day = hub_core::time::now().date() - Days::days(3);
    let since = first_day.and_hms_opt(2, 30, 0).unwrap();
    let uri = format!(
        "/api/v1/messages?limit=1&since={}",
        since.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let total = |list: serde_json::Value| list["total"].as_u64().unwrap();
    let before = total(watched.json(&uri).await);
    assert_eq!(total(unwatched.json(&uri).await), before);

    let writer = collector(&watched).await;
    let late = first_day.and_hms_opt(10, 0, 0).unwrap();
    writer
        .execute_unprepared(&message_sql("late, in a kept hour", late))
        .await
        .unwrap();
    assert_eq!(total(watched.json(&uri).await), before + 1, "the late row");
    // Without the watch the kept count stays as it was read: 10:00 is a kept hour.
    assert_eq!(total(unwatched.json(&uri).await), before);
    // The first partial hour is counted by every request, watched or not.
    let early = first_day.and_hms_opt(2, 45, 0).unwrap();
    writer
        .execute_unprepared(&message_sql("late, in the first hour", early))
        .await
        .unwrap();
    assert_eq!(total(watched.json(&uri).await), before + 2);
    assert_eq!(total(unwatched.json(&uri).await), before + 1);
    watch.abort();
}

#[tokio::test]
async fn on_postgresql_a_collector_insert_shows_within_the_bound() {
    let redis = RedisServer::start();
    let (_pg, target) = meshcore_hub_postgres();
    let db = hub_core::db::connect_to(&target).await.unwrap();
    hub_core::db::prepare_schema(&db).await.unwrap();
    let cache = redis_response_cache(redis.port());
    let state = default_state(db.clone()).with_cache(cache.clone());
    let app = app_from_state(state, tempfile::tempdir().unwrap(), Default::default());
    let watch = hub_core::changes::watch(target.clone(), cache, INTERVAL);

    let uri = "/api/v1/messages?limit=5";
    app.get(uri).await;
    assert_eq!(x_cache_of(&app.get(uri).await), "HIT");
    let writer = hub_core::db::connect_to(&target).await.unwrap();
    writer
        .execute_unprepared(&message_sql("heard on postgres", hub_core::time::now()))
        .await
        .unwrap();
    // A new row moves the table's newest time, which the watch reads at each look: no wait
    // for PostgreSQL's statistics (up to 10 s after an isolated write like this one).
    let took = shows_within(&app, uri, BOUND, lists("heard on postgres")).await;
    assert!(
        took.is_some(),
        "the new message did not show within {BOUND:?}"
    );
    watch.abort();
}
