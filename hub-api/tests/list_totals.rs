//! List totals whose whole past days are counted once and kept (`query::day_counts`): on a
//! seeded network spread over weeks up to now, every list's `total` equals the rows its pages
//! hold, under every filter that takes the kept path, on the first request and from the kept
//! days; what changes after the fact (today's rows, names, tags, adoptions) shows at once.
use crate::common;
use common::*;
use hub_api::seed::{self, Scale, SeedArgs};
use sea_orm::ConnectionTrait;

/// A `small` network whose rows end now (so there are whole past days and a today).
async fn seeded_app() -> TestApp {
    let app = empty_app().await;
    let args = SeedArgs {
        scale: Scale::Small,
        seed: 20261202,
        force: false,
        anchor: None,
    };
    seed::seed_database(&app.db, &args).await.expect("seed");
    app
}

/// The items of every page of `uri` (which has no limit/offset), 100 at a time.
async fn paged_rows(app: &TestApp, uri: &str) -> u64 {
    let mut rows = 0;
    for page in 0.. {
        let body = app
            .json(&format!("{uri}&limit=100&offset={}", page * 100))
            .await;
        let items = body["items"].as_array().map_or(0, Vec::len) as u64;
        if items == 0 {
            break;
        }
        rows += items;
    }
    rows
}

async fn total(app: &TestApp, uri: &str) -> u64 {
    let body = app.json(&format!("{uri}&limit=1")).await;
    body["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("{uri}: {body}"))
}

async fn first_observer(app: &TestApp) -> String {
    let key = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT n.public_key FROM event_observers eo JOIN nodes n ON n.id = eo.observer_node_id \
             GROUP BY n.public_key ORDER BY COUNT(*) DESC LIMIT 1",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index::<String>(0).ok());
    key.expect("the seed records observers")
}

/// Naive UTC text of `hours` hours ago, as a `since`/`until` value.
fn hours_ago(hours: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[tokio::test]
async fn totals_equal_the_rows_of_the_pages_under_every_kept_filter() {
    let app = seeded_app().await;
    let observer = first_observer(&app).await;
    // Windows that start and end mid-day, from midnight, and reach into today.
    let (since, until) = (hours_ago(24 * 5 + 7), hours_ago(24 * 2 + 5));
    let filters = [
        String::new(),
        format!("observed_by={observer}"),
        "search=a".to_string(),
        "search=5f".to_string(),
        format!("since={since}"),
        format!("since={since}&until={until}"),
        format!("until={until}"),
        format!("since={}&observed_by={observer}", hours_ago(24 * 3)),
    ];
    let lists = [
        "/api/v1/advertisements",
        "/api/v1/messages",
        "/api/v1/packets",
        "/api/v1/telemetry",
        "/api/v1/trace-paths",
    ];
    let mut checked = 0;
    for list in lists {
        for filter in &filters {
            let uri = format!("{list}?{filter}");
            let first = total(&app, &uri).await;
            let rows = paged_rows(&app, &uri).await;
            assert_eq!(first, rows, "{uri}: total on the first request");
            // Now from the kept days.
            assert_eq!(total(&app, &uri).await, rows, "{uri}: total from kept days");
            checked += u64::from(rows > 0);
        }
    }
    // Also the list-specific filters that take the kept path.
    for uri in [
        "/api/v1/advertisements?route_type=all",
        "/api/v1/messages?channel_idx=17",
        "/api/v1/messages?message_type=contact",
        "/api/v1/packets?channel_idx=17",
        "/api/v1/packets?event_type=advertisement",
        // Pages written for SQLite's planner (`+column`), counts not: the same rows.
        "/api/v1/packets?redacted=false",
        "/api/v1/packets?route_type=flood",
        "/api/v1/packets?packet_type=5",
    ] {
        let rows = paged_rows(&app, uri).await;
        assert_eq!(total(&app, uri).await, rows, "{uri}");
        assert_eq!(total(&app, uri).await, rows, "{uri}: kept");
        checked += u64::from(rows > 0);
    }
    assert!(
        checked >= 30,
        "too few non-empty lists ({checked}) to mean anything"
    );
}

#[tokio::test]
async fn past_days_are_kept_while_today_names_and_adoptions_count_at_once() {
    let app = seeded_app().await;
    let adverts = "/api/v1/advertisements?route_type=all";
    let before = total(&app, adverts).await;
    let insert = |id: &str, at: String, name: &str| {
        format!(
            "INSERT INTO advertisements (id, public_key, name, received_at, created_at, \
             updated_at, route_type) VALUES ('{id}', '{pk}', '{name}', '{at}', '{at}', '{at}', \
             'flood')",
            pk = pk("ab12")
        )
    };
    // Today's rows are counted on every request.
    app.exec(&insert("today", ago(0, 0), "fresh")).await;
    assert_eq!(total(&app, adverts).await, before + 1);
    // A past day's count is kept: a row that appears there afterwards (a late import) shows
    // once the kept day is reread (PAST_DAY_TTL), as a cached response would; a new server
    // counts it at once.
    app.exec(&insert("late", ago(3, 0), "late")).await;
    assert_eq!(total(&app, adverts).await, before + 1, "kept day reused");
    let fresh = app_over(open_sqlite(&app.path).await);
    assert_eq!(total(&fresh, adverts).await, before + 2);

    // A node renamed so that the search matches it: its adverts on past days count at once.
    let search = "/api/v1/advertisements?search=zq9";
    assert_eq!(total(&app, search).await, 0);
    app.exec(
        "UPDATE nodes SET name = 'Zq9 tower' WHERE id = \
         (SELECT node_id FROM advertisements WHERE node_id IS NOT NULL \
          AND route_type = 'flood' ORDER BY received_at LIMIT 1)",
    )
    .await;
    let renamed = paged_rows(&app, search).await;
    assert!(renamed > 0, "the renamed node has flood adverts");
    assert_eq!(total(&app, search).await, renamed);

    // Same for a `name` tag.
    let tagged = "/api/v1/advertisements?search=qq7";
    assert_eq!(total(&app, tagged).await, 0);
    app.exec(&format!(
        "INSERT INTO node_tags (id, node_id, key, value, value_type, created_at, updated_at) \
         SELECT 'qq7-tag', node_id, 'name', 'QQ7 hill', 'string', '{t}', '{t}' FROM advertisements \
         WHERE node_id IS NOT NULL AND route_type = 'flood' AND node_id NOT IN \
         (SELECT node_id FROM node_tags WHERE key = 'name') ORDER BY received_at DESC LIMIT 1",
        t = ago(0, 0)
    ))
    .await;
    let with_tag = paged_rows(&app, tagged).await;
    assert!(with_tag > 0);
    assert_eq!(total(&app, tagged).await, with_tag);

    // And for an adoption.
    let adopted = "/api/v1/advertisements?adopted_by=p-adopter";
    app.exec(&format!(
        "INSERT INTO user_profiles (id, user_id, roles, created_at, updated_at) \
         VALUES ('p-adopter', 'adopter', 'member', '{t}', '{t}')",
        t = ago(0, 0)
    ))
    .await;
    assert_eq!(total(&app, adopted).await, 0);
    app.exec(&format!(
        "INSERT INTO user_profile_nodes (user_profile_id, node_id, adopted_at) \
         SELECT 'p-adopter', node_id, '{t}' FROM advertisements WHERE node_id IS NOT NULL \
         AND route_type = 'flood' AND node_id NOT IN (SELECT node_id FROM user_profile_nodes) \
         ORDER BY received_at LIMIT 1",
        t = ago(0, 0)
    ))
    .await;
    let adoptions = paged_rows(&app, adopted).await;
    assert!(adoptions > 0);
    assert_eq!(total(&app, adopted).await, adoptions);
}

#[tokio::test]
async fn a_search_matching_thousands_of_nodes_still_answers() {
    let app = seeded_app().await;
    // More matching nodes than a statement binds one by one (and than SQLite binds at all
    // on an older build): the ids go as one array.
    let t = ago(1, 0);
    let nodes: Vec<String> = (0..1200)
        .map(|i| format!("('bulk-{i}', '{i:064x}', 'Bulkhead {i}', '{t}', '{t}', '{t}', '{t}', 0)"))
        .collect();
    app.exec(&format!(
        "INSERT INTO nodes (id, public_key, name, first_seen, last_seen, created_at, \
         updated_at, is_observer) VALUES {}",
        nodes.join(", ")
    ))
    .await;
    for (id, node) in [("bulk-advert-1", "bulk-7"), ("bulk-advert-2", "bulk-1100")] {
        app.exec(&format!(
            "INSERT INTO advertisements (id, node_id, public_key, name, received_at, created_at, \
             updated_at, route_type) VALUES ('{id}', '{node}', '{pk}', NULL, '{t}', '{t}', '{t}', \
             'flood')",
            pk = pk("ffee")
        ))
        .await;
    }
    let uri = "/api/v1/advertisements?search=bulkhead";
    assert_eq!(total(&app, uri).await, 2);
    assert_eq!(paged_rows(&app, uri).await, 2);
    let packets = app.get("/api/v1/packets?search=bulkhead&limit=5").await;
    packets.assert_status_is_ok();
}

/// A page of an `observed_by` list is the same whether SQLite walks the rows in time order
/// (a small page of a busy observer) or looks up each of the observer's events (a big one):
/// `ObserverPlan` only changes how the rows are found.
#[tokio::test]
async fn observed_by_pages_agree_whichever_way_they_are_read() {
    let app = seeded_app().await;
    let observer = first_observer(&app).await;
    for list in [
        "/api/v1/advertisements",
        "/api/v1/messages",
        "/api/v1/packets",
    ] {
        let uri = format!("{list}?observed_by={observer}");
        let big = app.json(&format!("{uri}&limit=100")).await;
        let big = big["items"].as_array().cloned().unwrap_or_default();
        assert!(big.len() > 10, "{uri}: too few rows to compare");
        for offset in [0, 1, 7] {
            let small = app.json(&format!("{uri}&limit=1&offset={offset}")).await;
            assert_eq!(small["items"][0], big[offset], "{uri} at {offset}");
        }
    }
}
