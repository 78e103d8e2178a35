//! `hub-api seed`: determinism, refusal and `--force`, coverage of what the dashboard and lists
//! compute, and the API over a seeded database. Small scale only, so it stays fast.

mod common;

use chrono::NaiveDateTime;
use common::*;
use hub_api::seed::tables::Table;
use hub_api::seed::{self, Scale, SeedArgs, SeedError, SeedSummary};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// A fixed "now", so two runs produce byte-identical rows.
fn anchor() -> NaiveDateTime {
    hub_core::time::parse_datetime_param("2026-11-20T12:34:56.123456Z").unwrap()
}

fn args(seed: u64, force: bool, anchor: Option<NaiveDateTime>) -> SeedArgs {
    SeedArgs {
        scale: Scale::Small,
        seed,
        force,
        anchor,
    }
}

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// Every row of `table` rendered as text (SQLite `quote()` of each column), sorted.
async fn rows_of(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let columns = strings(
        db,
        &format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
    )
    .await;
    assert!(!columns.is_empty(), "{table} has no columns");
    let row = columns
        .iter()
        .map(|c| format!("quote(\"{c}\")"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    strings(
        db,
        &format!("SELECT r FROM (SELECT {row} AS r FROM \"{table}\") ORDER BY r"),
    )
    .await
}

/// (row count, SHA-256 of all rows) per seeded table.
async fn digest(db: &DatabaseConnection) -> BTreeMap<&'static str, (usize, String)> {
    let mut out = BTreeMap::new();
    for table in Table::ALL {
        let rows = rows_of(db, table.name()).await;
        let mut hash = Sha256::new();
        for row in &rows {
            hash.update(row.as_bytes());
            hash.update(b"\n");
        }
        out.insert(table.name(), (rows.len(), hex::encode(hash.finalize())));
    }
    out
}

fn assert_plan_counts(summary: &SeedSummary) {
    let plan = Scale::Small.plan();
    assert_eq!(summary.rows_in(Table::Nodes), plan.nodes as u64);
    assert_eq!(summary.rows_in(Table::Advertisements), plan.adverts as u64);
    assert_eq!(summary.rows_in(Table::Messages), plan.messages as u64);
    assert_eq!(summary.rows_in(Table::RawPackets), plan.raw_packets as u64);
    assert_eq!(summary.rows_in(Table::UserProfiles), plan.profiles as u64);
    assert_eq!(summary.rows_in(Table::Routes), plan.routes as u64);
    for table in Table::ALL {
        assert!(summary.rows_in(table) > 0, "{} is empty", table.name());
    }
}

#[tokio::test]
async fn the_same_seed_gives_identical_rows() {
    let a = empty_app().await;
    let b = empty_app().await;
    let first = seed::seed_database(&a.db, &args(7, false, Some(anchor())))
        .await
        .unwrap();
    let second = seed::seed_database(&b.db, &args(7, false, Some(anchor())))
        .await
        .unwrap();
    assert_plan_counts(&first);
    assert_eq!(first.rows, second.rows);
    assert_eq!(first.anchor, anchor());
    let (da, db) = (digest(&a.db).await, digest(&b.db).await);
    assert_eq!(da, db);
    // The digests are over real rows: the counts agree with what the seed reported.
    for table in Table::ALL {
        assert_eq!(
            da[table.name()].0 as u64,
            first.rows_in(table),
            "{}",
            table.name()
        );
    }
    // Sampled rows, field by field, to make a failure readable.
    for table in ["nodes", "messages", "route_result_history"] {
        let (ra, rb) = (rows_of(&a.db, table).await, rows_of(&b.db, table).await);
        assert_eq!(ra[..3], rb[..3], "{table}");
    }
    // Datetimes are naive UTC with six fraction digits, ids are UUID v4 text.
    let received = strings(&a.db, "SELECT received_at FROM messages LIMIT 5").await;
    for t in &received {
        assert!(
            NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.6f").is_ok() && t.len() == 26,
            "{t}"
        );
    }
    let ids = strings(&a.db, "SELECT id FROM advertisements LIMIT 5").await;
    for id in &ids {
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 4, "{id}");
        assert_eq!(id, &uuid.hyphenated().to_string());
    }

    // Another seed is another network.
    let c = empty_app().await;
    seed::seed_database(&c.db, &args(8, false, Some(anchor())))
        .await
        .unwrap();
    let dc = digest(&c.db).await;
    assert_ne!(da["nodes"].1, dc["nodes"].1);
    assert_ne!(da["messages"].1, dc["messages"].1);
}

#[tokio::test]
async fn refuses_a_database_with_nodes_unless_forced() {
    let app = empty_app().await;
    seed::seed_database(&app.db, &args(7, false, Some(anchor())))
        .await
        .unwrap();
    let before = digest(&app.db).await;

    let err = seed::seed_database(&app.db, &args(9, false, Some(anchor())))
        .await
        .unwrap_err();
    assert!(matches!(err, SeedError::NotEmpty { nodes: 60 }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("60 nodes") && message.contains("--force"),
        "{message}"
    );
    assert_eq!(digest(&app.db).await, before, "a refused seed wrote");

    // A database with only a hand-made node is refused too.
    let other = empty_app().await;
    insert_node(&other, "n1", &pk("ab"), Some("Mine"), None).await;
    assert!(matches!(
        seed::seed_database(&other.db, &args(7, false, None)).await,
        Err(SeedError::NotEmpty { nodes: 1 })
    ));

    // --force clears the seeded tables first: a different seed leaves no trace of the first
    // (same counts, no duplicates), and the first seed again gives the first rows back.
    let forced = seed::seed_database(&app.db, &args(9, true, Some(anchor())))
        .await
        .unwrap();
    assert_plan_counts(&forced);
    let after = digest(&app.db).await;
    assert_eq!(after["nodes"].0, 60);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM messages").await, 3_000);
    assert_ne!(after["nodes"].1, before["nodes"].1);
    seed::seed_database(&app.db, &args(7, true, Some(anchor())))
        .await
        .unwrap();
    assert_eq!(digest(&app.db).await, before);

    // --force on the hand-made database removes its node too.
    seed::seed_database(&other.db, &args(7, true, None))
        .await
        .unwrap();
    assert_eq!(
        other
            .scalar(&format!(
                "SELECT COUNT(*) FROM nodes WHERE public_key = '{}'",
                pk("ab")
            ))
            .await,
        0
    );
}

#[tokio::test]
async fn the_demo_seeds_only_an_empty_database() {
    let app = empty_app().await;
    assert!(seed::seed_demo_if_empty(&app.db).await.unwrap());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM nodes").await, 60);
    assert!(!seed::seed_demo_if_empty(&app.db).await.unwrap());
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM advertisements").await,
        2_000
    );
}

/// Days among the last `days` (today excluded) with at least one row of `from_where`, a SQL
/// `FROM ... WHERE ...` whose timestamp column is `col`.
async fn busy_days(app: &TestApp, col: &str, from_where: &str, days: i64) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(DISTINCT substr({col}, 1, 10)) FROM {from_where} \
         AND {col} >= date('now', '-{days} days') AND {col} < date('now')"
    ))
    .await
}

#[tokio::test]
async fn the_data_covers_what_the_dashboard_and_lists_compute() {
    let app = empty_app().await;
    let summary = seed::seed_database(&app.db, &args(seed::DEFAULT_SEED, false, None))
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let app = &app;
        async move { app.scalar(sql).await }
    };

    // Channels of every visibility level, each with messages on its index.
    let channels = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT channel_hash, visibility FROM channels",
        ))
        .await
        .unwrap();
    let mut levels = BTreeSet::new();
    let mut channel_indices = BTreeSet::new();
    for row in &channels {
        let hash: String = row.try_get_by_index(0).unwrap();
        let visibility: String = row.try_get_by_index(1).unwrap();
        let idx = i64::from_str_radix(&hash, 16).unwrap();
        assert_eq!(hash, hash.to_uppercase());
        assert_ne!(idx, 17);
        let on_it = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM messages WHERE message_type = 'channel' AND channel_idx = {idx}"
            ))
            .await;
        assert!(on_it > 0, "no messages on {visibility} channel {hash}");
        levels.insert(visibility);
        channel_indices.insert(idx);
    }
    assert_eq!(
        levels,
        ["admin", "community", "member", "operator"]
            .map(String::from)
            .into()
    );
    // Each channel's hash is the first byte of SHA-256 over its key.
    let keys = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT key_hex, channel_hash FROM channels",
        ))
        .await
        .unwrap();
    for row in &keys {
        let key: String = row.try_get_by_index(0).unwrap();
        let hash: String = row.try_get_by_index(1).unwrap();
        assert!(key.len() == 32 || key.len() == 64, "{key}");
        assert_eq!(
            hub_core::roles::channel_hash(&hex::decode(&key).unwrap()),
            hash
        );
    }
    assert!(count("SELECT COUNT(*) FROM channels WHERE enabled = 0").await > 0);
    // The Public channel and orphan indices (messages without a channels row).
    assert!(count("SELECT COUNT(*) FROM messages WHERE channel_idx = 17").await > 0);
    assert_eq!(summary.orphan_channel_indices.len(), 2);
    for idx in &summary.orphan_channel_indices {
        assert!(*idx != 17 && !channel_indices.contains(&i64::from(*idx)));
        let on_it = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM messages WHERE channel_idx = {idx}"
            ))
            .await;
        assert!(on_it > 0, "no messages on orphan index {idx}");
    }
    assert!(
        count(
            "SELECT COUNT(*) FROM messages WHERE message_type = 'channel' AND channel_idx IS NULL"
        )
        .await
            > 0
    );
    assert!(count("SELECT COUNT(*) FROM messages WHERE message_type = 'contact'").await > 0);
    // Spam above and below the 0.65 threshold.
    let spam = count("SELECT COUNT(*) FROM messages WHERE spam_score >= 0.65").await;
    assert!(spam > 0 && spam < 3_000 / 10, "{spam}");
    assert!(count("SELECT COUNT(*) FROM messages WHERE spam_score < 0.65").await > 0);

    // Profiles: every role, test-role holders that would otherwise count, a near-miss name.
    let roles = strings(&app.db, "SELECT COALESCE(roles, '') FROM user_profiles").await;
    let holds = |role: &str, r: &str| r.split(',').any(|x| x.trim() == role);
    for role in ["admin", "operator", "member", "test"] {
        assert!(roles.iter().any(|r| holds(role, r)), "no {role} profile");
    }
    assert!(
        roles
            .iter()
            .any(|r| holds("test", r) && holds("operator", r))
    );
    assert!(roles.iter().any(|r| holds("test", r) && holds("member", r)));
    assert!(count("SELECT COUNT(*) FROM user_profile_nodes").await > 0);

    // Nodes: observers, tags, active in the last 24 h, created on many days of the window.
    assert_eq!(
        count("SELECT COUNT(*) FROM nodes WHERE is_observer = 1").await,
        6
    );
    for key in ["name", "role", "description"] {
        let n = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM node_tags WHERE key = '{key}'"
            ))
            .await;
        assert!(n > 0, "no {key} tags");
    }
    assert!(
        count("SELECT COUNT(*) FROM nodes WHERE last_seen >= datetime('now', '-1 day')").await > 5
    );
    assert!(
        count("SELECT COUNT(*) FROM nodes WHERE created_at < date('now', '-60 days')").await > 0
    );
    assert!(busy_days(&app, "created_at", "nodes WHERE 1 = 1", 60).await >= 10);

    // Adverts: every route type, non-zero daily flood-only counts, the last 24 h.
    let route_types = strings(
        &app.db,
        "SELECT DISTINCT COALESCE(route_type, 'NULL') FROM advertisements ORDER BY 1",
    )
    .await;
    assert_eq!(route_types, ["NULL", "direct", "flood", "transport_flood"]);
    let flood =
        "advertisements WHERE (route_type IN ('flood', 'transport_flood') OR route_type IS NULL)";
    assert!(busy_days(&app, "received_at", flood, 30).await >= 28);
    assert!(
        count("SELECT COUNT(*) FROM advertisements WHERE received_at >= datetime('now', '-1 day')")
            .await
            > 0
    );
    assert!(busy_days(&app, "received_at", "messages WHERE 1 = 1", 30).await >= 28);
    assert!(
        count("SELECT COUNT(*) FROM messages WHERE received_at >= datetime('now', '-1 day')").await
            > 0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM messages WHERE received_at < date('now', '-61 days')").await,
        0
    );

    // event_observers match an event of their type, by observers, and events have several.
    for (event_type, table) in [("advertisement", "advertisements"), ("message", "messages")] {
        let rows = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM event_observers WHERE event_type = '{event_type}'"
            ))
            .await;
        let unmatched = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM event_observers eo WHERE eo.event_type = '{event_type}' \
                 AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.event_hash = eo.event_hash)"
            ))
            .await;
        let multi = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM (SELECT event_hash FROM event_observers \
                 WHERE event_type = '{event_type}' GROUP BY event_hash HAVING COUNT(*) > 1)"
            ))
            .await;
        assert!(
            rows > 0 && unmatched == 0 && multi > 0,
            "{event_type}: {rows} {unmatched} {multi}"
        );
    }
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM event_observers eo JOIN nodes n ON n.id = eo.observer_node_id \
             WHERE n.is_observer = 0"
        )
        .await,
        0
    );

    // Raw packets: many event types and NULL, every path width, daily counts.
    assert!(count("SELECT COUNT(DISTINCT event_type) FROM raw_packets").await >= 8);
    assert!(count("SELECT COUNT(*) FROM raw_packets WHERE event_type IS NULL").await > 0);
    let widths = strings(
        &app.db,
        "SELECT DISTINCT CAST(path_hash_bytes AS TEXT) FROM raw_packets WHERE path_hash_bytes IS NOT NULL ORDER BY 1",
    )
    .await;
    assert_eq!(widths, ["1", "2", "3"]);
    assert!(busy_days(&app, "received_at", "raw_packets WHERE 1 = 1", 30).await >= 29);
    assert!(
        count("SELECT COUNT(*) FROM raw_packets WHERE received_at >= datetime('now', '-7 days')")
            .await
            > 0
    );

    // Routes: community ones enabled and disabled, with and without a result, several
    // states, and daily history up to yesterday.
    assert!(
        count("SELECT COUNT(*) FROM routes WHERE visibility = 'community' AND enabled = 1").await
            >= 3
    );
    assert!(
        count("SELECT COUNT(*) FROM routes WHERE visibility = 'community' AND enabled = 0").await
            >= 1
    );
    assert!(count("SELECT COUNT(*) FROM routes WHERE visibility <> 'community'").await >= 3);
    assert!(
        count(
            "SELECT COUNT(*) FROM routes r WHERE r.visibility = 'community' \
             AND NOT EXISTS (SELECT 1 FROM route_results x WHERE x.route_id = r.id)"
        )
        .await
            >= 1
    );
    let states = strings(
        &app.db,
        "SELECT DISTINCT state FROM route_results ORDER BY 1",
    )
    .await;
    assert_eq!(states, ["degraded", "healthy", "no_coverage", "unhealthy"]);
    assert!(
        count("SELECT COUNT(*) FROM route_result_history WHERE date = date('now', '-1 day')").await
            >= 8
    );
    assert!(
        count(
            "SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM route_result_history GROUP BY route_id)"
        )
        .await
            >= 45
    );
}

#[tokio::test]
async fn the_api_serves_the_seeded_network() {
    let app = empty_app().await;
    seed::seed_database(&app.db, &SeedArgs::default())
        .await
        .unwrap();
    let body = app.json("/api/v1/nodes").await;
    assert_eq!(body["total"], 60);
    assert_eq!(body["items"].as_array().unwrap().len(), 50);
    let body = app.json("/api/v1/nodes?limit=500&observer=true").await;
    assert_eq!(body["total"], 6);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["is_observer"] == true && n["adopted_by"].is_object())
    );
    // Channels by role: anonymous sees the 3 community ones, admin all 8.
    assert_eq!(app.json("/api/v1/channels").await["total"], 3);
    assert_eq!(app.json_as("/api/v1/channels", "admin").await["total"], 8);
}
