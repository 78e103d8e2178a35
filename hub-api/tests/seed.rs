//! `hub-api seed`: determinism, refusal and `--force`, coverage of what the dashboard and lists
//! compute, and the API over a seeded database. Small scale only, so it stays fast.

use crate::common;

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
    assert_eq!(summary.rows_in(Table::Telemetry), plan.telemetry as u64);
    assert_eq!(summary.rows_in(Table::TracePaths), plan.trace_paths as u64);
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
    for table in [
        "nodes",
        "messages",
        "route_result_history",
        "packet_path_hops",
        "telemetry",
        "trace_paths",
        "route_recent_matches",
    ] {
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
    // Every state and quality of the contract's domain, and only those (healthy/marginal is
    // what the Routes page shows as degraded).
    let outcomes = strings(
        &app.db,
        "SELECT DISTINCT state || '/' || quality FROM route_results ORDER BY 1",
    )
    .await;
    assert_eq!(
        outcomes,
        [
            "healthy/clear",
            "healthy/marginal",
            "no_coverage/unknown",
            "unhealthy/failing"
        ]
    );
    let history_outcomes = strings(
        &app.db,
        "SELECT DISTINCT state || '/' || quality FROM route_result_history ORDER BY 1",
    )
    .await;
    assert_eq!(history_outcomes, outcomes);
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

/// The seed stores hex as a LetsMesh collector does (docs/contract/api-notes.md, "Hex
/// columns"): packet sender prefixes and contact-message prefixes as 12 uppercase characters,
/// node keys lowercase; the filters find those rows from a lowercase value, and the sender of
/// an uppercase prefix is named.
#[tokio::test]
async fn seeded_hex_is_collector_shaped_and_found_in_either_case() {
    let app = empty_app().await;
    seed::seed_database(&app.db, &SeedArgs::default())
        .await
        .unwrap();
    let not_upper = strings(
        &app.db,
        "SELECT source_pubkey_prefix FROM raw_packets WHERE source_pubkey_prefix IS NOT NULL \
         AND (source_pubkey_prefix <> upper(source_pubkey_prefix) OR length(source_pubkey_prefix) <> 12)",
    )
    .await;
    assert!(
        not_upper.is_empty(),
        "{} not uppercase, e.g. {:?}",
        not_upper.len(),
        not_upper.first()
    );
    let upper_contacts = strings(
        &app.db,
        "SELECT pubkey_prefix FROM messages WHERE message_type = 'contact' \
         AND pubkey_prefix = upper(pubkey_prefix) AND length(pubkey_prefix) = 12",
    )
    .await;
    let contacts = strings(
        &app.db,
        "SELECT pubkey_prefix FROM messages WHERE message_type = 'contact' \
         ORDER BY received_at DESC",
    )
    .await;
    assert!(!contacts.is_empty());
    assert_eq!(upper_contacts.len(), contacts.len());
    let lower_keys = strings(
        &app.db,
        "SELECT public_key FROM nodes WHERE public_key <> lower(public_key)",
    )
    .await;
    assert!(
        lower_keys.is_empty(),
        "{} not lowercase, e.g. {:?}",
        lower_keys.len(),
        lower_keys.first()
    );

    // The most frequent packet sender, asked for in lowercase.
    let source = strings(
        &app.db,
        "SELECT source_pubkey_prefix FROM raw_packets WHERE source_pubkey_prefix IS NOT NULL \
         GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1",
    )
    .await
    .remove(0);
    let stored = strings(
        &app.db,
        &format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM raw_packets WHERE source_pubkey_prefix = '{source}'"
        ),
    )
    .await
    .remove(0);
    for value in [source.to_ascii_lowercase(), source.clone()] {
        let body = app
            .json(&format!("/api/v1/packets?pubkey_prefix={value}&limit=1"))
            .await;
        assert_eq!(body["total"].to_string(), stored, "{value}");
    }

    // A contact message's uppercase prefix names its sender, and filters from lowercase.
    let prefix = &contacts[0];
    let body = app
        .json(&format!(
            "/api/v1/messages?message_type=contact&pubkey_prefix={}&limit=100",
            prefix.to_ascii_lowercase()
        ))
        .await;
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{prefix}: {body}");
    let key_prefix = prefix.to_ascii_lowercase();
    let sender: Vec<String> = strings(
        &app.db,
        &format!(
            "SELECT COALESCE(name, '') FROM nodes WHERE public_key LIKE '{key_prefix}%' \
             ORDER BY public_key LIMIT 1"
        ),
    )
    .await;
    assert_eq!(sender.len(), 1, "{prefix} has no node");
    for item in items {
        assert_eq!(item["pubkey_prefix"].as_str().unwrap(), prefix.as_str());
        assert_eq!(
            item["sender_name"].as_str().unwrap_or(""),
            sender[0],
            "{item}"
        );
    }
}

/// Where the route matcher (docs/contract/api-2.md §5.8) finds `expected` in `hops`: greedy leftmost
/// subsequence, forwards, else backwards for a reversible route.
fn match_span(
    hops: &[String],
    expected: &[String],
    reversible: bool,
    max_hop_span: Option<i64>,
    max_path_length: Option<i64>,
) -> Option<(usize, usize)> {
    if max_path_length.is_some_and(|max| hops.len() as i64 > max) {
        return None;
    }
    let find = |order: Vec<&String>| {
        let (mut at, mut first, mut last) = (0, None, 0);
        for e in order {
            let found = (at..hops.len()).find(|&i| hops[i].starts_with(e.as_str()))?;
            first.get_or_insert(found);
            last = found;
            at = found + 1;
        }
        let first = first?;
        if max_hop_span.is_some_and(|span| (last - first) as i64 > span) {
            return None;
        }
        Some((first, last))
    };
    find(expected.iter().collect()).or_else(|| {
        if reversible && expected.len() > 1 {
            find(expected.iter().rev().collect())
        } else {
            None
        }
    })
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn packets_hops_telemetry_and_traces_are_consistent() {
    let app = empty_app().await;
    seed::seed_database(&app.db, &args(seed::DEFAULT_SEED, false, None))
        .await
        .unwrap();

    // Hops copy their packet's columns, count its path_len, run 0..n-1, and name real nodes
    // by the uppercase key prefix of the packet's hash width.
    assert!(app.scalar("SELECT COUNT(*) FROM packet_path_hops").await > 6_000);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM packet_path_hops h JOIN raw_packets r ON r.id = h.raw_packet_id \
             WHERE h.packet_hash IS NOT r.packet_hash OR h.event_hash IS NOT r.event_hash \
             OR h.received_at IS NOT r.received_at OR h.observer_node_id IS NOT r.observer_node_id \
             OR length(h.node_hash) <> 2 * r.path_hash_bytes OR h.node_hash <> upper(h.node_hash)"
        )
        .await,
        0
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM packet_path_hops h WHERE NOT EXISTS (SELECT 1 FROM nodes n \
             WHERE upper(substr(n.public_key, 1, length(h.node_hash))) = h.node_hash)"
        )
        .await,
        0
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM raw_packets r LEFT JOIN (SELECT raw_packet_id, COUNT(*) AS n, \
             MIN(position) AS lo, MAX(position) AS hi FROM packet_path_hops GROUP BY raw_packet_id) h \
             ON h.raw_packet_id = r.id WHERE (r.path_hash_bytes IS NULL AND h.n IS NOT NULL) \
             OR (r.path_hash_bytes IS NOT NULL AND COALESCE(h.n, 0) <> r.path_len) \
             OR h.lo <> 0 OR h.hi <> h.n - 1"
        )
        .await,
        0
    );
    for width in 1..=3 {
        let n = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM packet_path_hops WHERE length(node_hash) = {}",
                2 * width
            ))
            .await;
        assert!(n > 0, "no hops of width {width}");
    }

    // Packet groups: receptions of one packet by several observers share its hashes.
    assert!(
        app.scalar(
            "SELECT COUNT(*) FROM (SELECT packet_hash FROM raw_packets GROUP BY packet_hash \
             HAVING COUNT(*) > 1 AND COUNT(DISTINCT observer_node_id) = COUNT(*))"
        )
        .await
            > 500
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM (SELECT packet_hash FROM raw_packets GROUP BY packet_hash \
             HAVING COUNT(DISTINCT COALESCE(event_hash, '-')) > 1 \
             OR COUNT(DISTINCT event_type) > 1 OR COUNT(DISTINCT observer_node_id) < COUNT(*))"
        )
        .await,
        0
    );

    // decoded as the collector writes it: Python separators, decrypted objects on every
    // channel with a key, null on channels without one, JSON null and SQL NULL.
    let count = |sql: String| {
        let app = &app;
        async move { app.scalar(&sql).await }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM raw_packets WHERE decoded IS NOT NULL AND NOT json_valid(decoded)".into()).await,
        0
    );
    assert!(count("SELECT COUNT(*) FROM raw_packets WHERE decoded = 'null'".into()).await > 0);
    assert!(count("SELECT COUNT(*) FROM raw_packets WHERE decoded IS NULL".into()).await > 0);
    assert!(
        count("SELECT COUNT(*) FROM raw_packets WHERE decoded LIKE '{\"packet_hash\": \"%'".into())
            .await
            > 1_000
    );
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM raw_packets WHERE decoded LIKE '%\":\"%' OR decoded LIKE '%,\"%'"
                .into()
        )
        .await,
        0
    );
    let decrypted = "decoded LIKE '%\"decrypted\": {%'";
    let encrypted = "decoded LIKE '%\"decrypted\": null%'";
    for visibility in ["community", "member", "operator", "admin"] {
        let on_channel = count(format!(
            "SELECT COUNT(*) FROM raw_packets WHERE {decrypted} AND channel_idx IN ({})",
            channel_indices(&app, visibility).await
        ))
        .await;
        assert!(
            on_channel > 0,
            "no decrypted packets on {visibility} channels"
        );
    }
    assert!(
        count(format!(
            "SELECT COUNT(*) FROM raw_packets WHERE channel_idx = 17 AND {decrypted}"
        ))
        .await
            > 0
    );
    let known = format!(
        "17, {}",
        channel_indices(&app, "community', 'member', 'operator', 'admin").await
    );
    assert!(
        count(format!(
            "SELECT COUNT(*) FROM raw_packets WHERE event_type = 'channel_msg_recv' \
             AND channel_idx IS NOT NULL AND channel_idx NOT IN ({known}) AND {encrypted}"
        ))
        .await
            > 0
    );
    assert_eq!(
        count(format!(
            "SELECT COUNT(*) FROM raw_packets WHERE channel_idx NOT IN ({known}) AND {decrypted}"
        ))
        .await,
        0
    );
    assert!(
        count(format!(
            "SELECT COUNT(*) FROM raw_packets WHERE event_type = 'contact_msg_recv' AND {encrypted}"
        ))
        .await
            > 0
    );

    // Telemetry from real nodes, JSON objects, observed under event type telemetry.
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM telemetry t WHERE NOT EXISTS \
             (SELECT 1 FROM nodes n WHERE n.public_key = t.node_public_key) \
             OR (t.parsed_data IS NOT NULL AND json_type(t.parsed_data) <> 'object') \
             OR (t.node_id IS NOT NULL AND t.node_id <> (SELECT id FROM nodes n WHERE n.public_key = t.node_public_key))"
                .into()
        )
        .await,
        0
    );
    assert!(
        count("SELECT COUNT(*) FROM telemetry WHERE parsed_data LIKE '{\"temperature\": %'".into())
            .await
            > 0
    );
    for (event_type, table) in [("telemetry", "telemetry"), ("trace", "trace_paths")] {
        let unmatched = count(format!(
            "SELECT COUNT(*) FROM event_observers eo WHERE eo.event_type = '{event_type}' \
             AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.event_hash = eo.event_hash)"
        ))
        .await;
        let observed = count(format!(
            "SELECT COUNT(*) FROM {table} t WHERE EXISTS (SELECT 1 FROM event_observers eo \
             WHERE eo.event_type = '{event_type}' AND eo.event_hash = t.event_hash)"
        ))
        .await;
        assert!(
            unmatched == 0 && observed > 0,
            "{table}: {unmatched} {observed}"
        );
    }

    // Trace paths: hex lists as long as hop_count, numeric SNRs, tags beyond 32 bits.
    assert_eq!(
        count(
            "SELECT COUNT(*) FROM trace_paths WHERE path_hashes IS NOT NULL AND \
             (json_array_length(path_hashes) <> hop_count OR json_array_length(snr_values) <> hop_count \
             OR EXISTS (SELECT 1 FROM json_each(path_hashes) j WHERE j.type <> 'text') \
             OR EXISTS (SELECT 1 FROM json_each(snr_values) j WHERE j.type NOT IN ('real', 'integer')))"
                .into()
        )
        .await,
        0
    );
    assert!(
        count("SELECT COUNT(*) FROM trace_paths WHERE initiator_tag >= 4294967296".into()).await
            > 0
    );
    assert!(count("SELECT COUNT(*) FROM trace_paths WHERE path_hashes IS NULL".into()).await > 0);
}

/// The channel indices of the seeded channels of the given visibility (quoted list inside).
async fn channel_indices(app: &TestApp, visibility: &str) -> String {
    strings(
        &app.db,
        &format!("SELECT channel_hash FROM channels WHERE visibility IN ('{visibility}')"),
    )
    .await
    .iter()
    .map(|h| i64::from_str_radix(h, 16).unwrap().to_string())
    .collect::<Vec<_>>()
    .join(", ")
}

#[tokio::test]
async fn routes_evaluate_live_as_their_stored_results_say() {
    let app = empty_app().await;
    seed::seed_database(&app.db, &args(seed::DEFAULT_SEED, false, None))
        .await
        .unwrap();

    // Path nodes: at least two per route, positions 0..n-1, expected hash from the key.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM routes r WHERE (SELECT COUNT(*) FROM route_nodes n \
             WHERE n.route_id = r.id) < 2 OR (SELECT MAX(position) + 1 - COUNT(*) FROM route_nodes n \
             WHERE n.route_id = r.id) <> 0"
        )
        .await,
        0
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM route_nodes rn JOIN routes r ON r.id = rn.route_id \
             JOIN nodes n ON n.id = rn.node_id \
             WHERE rn.expected_hash <> upper(substr(n.public_key, 1, 2 * r.match_width))"
        )
        .await,
        0
    );
    assert!(
        app.scalar("SELECT COUNT(DISTINCT route_id) FROM route_observers")
            .await
            > 0
    );
    assert!(
        app.scalar(
            "SELECT COUNT(*) FROM routes r JOIN user_profiles p ON p.user_id = r.created_by"
        )
        .await
            > 0
    );

    let routes = rows(
        &app.db,
        "SELECT r.id, r.match_width, r.window_hours, r.packet_count_threshold, \
         r.clear_threshold, r.max_hop_span, r.max_path_length, r.reversible, x.state, x.quality, \
         x.matched_count FROM routes r JOIN route_results x ON x.route_id = r.id ORDER BY r.id",
    )
    .await;
    let now = chrono::Utc::now().naive_utc();
    let mut outcomes = BTreeSet::new();
    let mut matches_seen = 0;
    for route in &routes {
        let id: String = route.try_get_by_index(0).unwrap();
        let window_hours: i64 = route.try_get_by_index(2).unwrap();
        let threshold: i64 = route.try_get_by_index(3).unwrap();
        let clear: Option<i64> = route.try_get_by_index(4).unwrap();
        let max_hop_span: Option<i64> = route.try_get_by_index(5).unwrap();
        let max_path_length: Option<i64> = route.try_get_by_index(6).unwrap();
        let reversible: bool = route.try_get_by_index(7).unwrap();
        let state: String = route.try_get_by_index(8).unwrap();
        let quality: String = route.try_get_by_index(9).unwrap();
        let stored_matched: i64 = route.try_get_by_index(10).unwrap();
        let expected = strings(
            &app.db,
            &format!(
                "SELECT expected_hash FROM route_nodes WHERE route_id = '{id}' ORDER BY position"
            ),
        )
        .await;
        let scope = strings(
            &app.db,
            &format!("SELECT node_id FROM route_observers WHERE route_id = '{id}'"),
        )
        .await;
        let since = (now - chrono::Duration::hours(window_hours))
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string();
        let in_scope = if scope.is_empty() {
            String::new()
        } else {
            format!(" AND observer_node_id IN ('{}')", scope.join("', '"))
        };
        let hops = rows(
            &app.db,
            &format!(
                "SELECT raw_packet_id, node_hash, COALESCE(event_hash, packet_hash) \
                 FROM packet_path_hops WHERE received_at >= '{since}'{in_scope} \
                 ORDER BY raw_packet_id, position"
            ),
        )
        .await;
        let mut packets: BTreeMap<String, (Vec<String>, Option<String>)> = BTreeMap::new();
        for hop in &hops {
            let packet: String = hop.try_get_by_index(0).unwrap();
            let entry = packets.entry(packet).or_default();
            entry.0.push(hop.try_get_by_index(1).unwrap());
            entry.1 = hop.try_get_by_index(2).unwrap();
        }
        let identities: BTreeSet<String> = packets
            .values()
            .filter(|(path, _)| {
                match_span(path, &expected, reversible, max_hop_span, max_path_length).is_some()
            })
            .filter_map(|(_, identity)| identity.clone())
            .collect();
        let matched = identities.len() as i64;
        let effective_clear = clear.filter(|c| *c != 0).unwrap_or(3 * threshold);
        let live = if matched >= effective_clear {
            ("healthy", "clear")
        } else if matched >= threshold {
            ("healthy", "marginal")
        } else if !hops.is_empty() {
            ("unhealthy", "failing")
        } else {
            ("no_coverage", "unknown")
        };
        assert_eq!(
            (state.as_str(), quality.as_str()),
            live,
            "route {id}: {matched} live matches, threshold {threshold}, clear {effective_clear}"
        );
        if quality == "clear" {
            assert_eq!(stored_matched, effective_clear, "route {id}");
        } else {
            assert_eq!(stored_matched, matched, "route {id}");
        }
        outcomes.insert(state.clone());

        // Recent matches: at most 3, packets in the window whose hops hold the path in order
        // between first_position and last_position.
        let recent = rows(
            &app.db,
            &format!(
                "SELECT m.raw_packet_id, m.first_position, m.last_position, r.received_at \
                 FROM route_recent_matches m JOIN raw_packets r ON r.id = m.raw_packet_id \
                 WHERE m.route_id = '{id}'"
            ),
        )
        .await;
        assert!(recent.len() <= 3, "route {id}");
        assert_eq!(
            recent.len() as i64,
            matched.min(3),
            "route {id}: recent matches"
        );
        for m in &recent {
            let packet: String = m.try_get_by_index(0).unwrap();
            let first: i64 = m.try_get_by_index(1).unwrap();
            let last: i64 = m.try_get_by_index(2).unwrap();
            let received: String = m.try_get_by_index(3).unwrap();
            assert!(received >= since, "route {id}: match outside the window");
            let path = &packets[&packet].0;
            let found = match_span(path, &expected, reversible, max_hop_span, max_path_length);
            assert_eq!(found, Some((first as usize, last as usize)), "route {id}");
            matches_seen += 1;
        }
    }
    assert_eq!(
        outcomes,
        ["healthy", "no_coverage", "unhealthy"]
            .map(String::from)
            .into()
    );
    assert!(matches_seen >= 9, "{matches_seen}");
}

#[tokio::test]
async fn the_api_serves_the_new_tables() {
    let app = empty_app().await;
    seed::seed_database(&app.db, &SeedArgs::default())
        .await
        .unwrap();
    for uri in [
        "/api/v1/packet-groups?sort=reception_count",
        "/api/v1/packets",
        "/api/v1/telemetry",
        "/api/v1/trace-paths",
    ] {
        let body = app.json(uri).await;
        let items = body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{uri}: {body}"));
        assert!(!items.is_empty(), "{uri}: no items");
        assert!(body["total"].as_i64().unwrap() > 0, "{uri}");
    }
    // Groups heard by several observers; their detail lists each reception's hops.
    let groups = app
        .json("/api/v1/packet-groups?sort=reception_count&limit=100")
        .await;
    let busiest = &groups["items"][0];
    assert!(
        busiest["reception_count"].as_i64().unwrap() > 1,
        "{busiest}"
    );
    let hash = busiest["packet_hash"].as_str().unwrap();
    let detail = app.json(&format!("/api/v1/packet-groups/{hash}")).await;
    let receptions = detail["receptions"].as_array().unwrap();
    assert_eq!(
        receptions.len() as i64,
        busiest["reception_count"].as_i64().unwrap()
    );
    // Some groups are redacted for anonymous callers and visible to admins.
    let hidden = app.json("/api/v1/packets?redacted=true").await["total"]
        .as_i64()
        .unwrap();
    let hidden_for_admin = app.json_as("/api/v1/packets?redacted=true", "admin").await["total"]
        .as_i64()
        .unwrap();
    assert!(hidden > hidden_for_admin, "{hidden} {hidden_for_admin}");
    // Decodable and undecodable packets both.
    for flag in ["true", "false"] {
        let total = app
            .json_as(&format!("/api/v1/packets?decryptable={flag}"), "admin")
            .await["total"]
            .as_i64()
            .unwrap();
        assert!(total > 0, "decryptable={flag}");
    }
    let telemetry = app.json("/api/v1/telemetry").await;
    assert!(telemetry["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["parsed_data"].is_object() && !t["observers"].as_array().unwrap().is_empty()));
    let traces = app.json("/api/v1/trace-paths").await;
    assert!(
        traces["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["path_hashes"].is_array() && t["snr_values"].is_array())
    );
}

#[tokio::test]
async fn seeds_postgresql_too() {
    let pg = hub_core::test_support::PostgresServer::start();
    let db = hub_core::db::connect(&pg.url())
        .await
        .expect("connect to PostgreSQL");
    hub_core::db::prepare_schema(&db).await.unwrap();
    let summary = seed::seed_database(&db, &args(7, false, Some(anchor())))
        .await
        .unwrap();
    assert_plan_counts(&summary);
    for table in Table::ALL {
        assert_eq!(
            seed::count_rows(&db, table).await.unwrap() as u64,
            summary.rows_in(table),
            "{}",
            table.name()
        );
    }
    // --force clears every seeded table, children first, on PostgreSQL's foreign keys too.
    let again = seed::seed_database(&db, &args(7, true, Some(anchor())))
        .await
        .unwrap();
    assert_eq!(again.rows, summary.rows);
    for table in Table::ALL {
        assert_eq!(
            seed::count_rows(&db, table).await.unwrap() as u64,
            summary.rows_in(table),
            "{} after --force",
            table.name()
        );
    }
    let app = app_over(db);
    for uri in [
        "/api/v1/packet-groups?since=2026-01-01T00:00:00Z",
        "/api/v1/telemetry",
        "/api/v1/trace-paths",
    ] {
        let body = app.json(uri).await;
        assert!(body["total"].as_i64().unwrap() > 0, "{uri}: {body}");
    }
}
