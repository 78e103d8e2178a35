//! `/api/v1/routes` read endpoints over a copy of MeshCore Hub's sample database (2 routes:
//! "Alpha Site"->"Bravo Site", community, with a result, 7 history days and 1 stored match;
//! "Op North"->"Op South", operator, created by `pw-operator`), plus Redis-backed cache keys.

use crate::common;

use chrono::{Duration, Utc};
use common::*;
use hub_core::cache::runtime::ResponseCache;
use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;
use serde_json::Value;
use std::sync::Arc;

const ALPHA: &str = "a96c766c-0af9-4d40-9b28-7dfb153e0449";
const OP: &str = "59d18f4f-0c60-41d8-990b-505dbc39d48a";
const NORTH_OBSERVER_1: &str = "2efec766-82ed-43b7-946d-56d004101145";
const SOUTH_OBSERVER_1: &str = "b82f6538-b4ed-4230-bfe8-067b7a59849b";
const NORTH_OBSERVER_2: &str = "6c562a43-a9e8-40bf-86b9-42202939f7c9";

fn labels(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from_label"].as_str().unwrap().to_string())
        .collect()
}

async fn get_with(app: &TestApp, uri: &str, roles: &str, user: Option<&str>) -> Value {
    let mut request = app.client.get(uri).header("X-User-Roles", roles);
    if let Some(user) = user {
        request = request.header("X-User-Id", user);
    }
    let resp = request.send().await;
    resp.assert_status_is_ok();
    resp.json().await.value().deserialize()
}

#[tokio::test]
async fn list_is_filtered_by_role() {
    let app = fixture_app().await;
    let anonymous = app.json("/api/v1/routes").await;
    assert_eq!(labels(&anonymous), ["Alpha Site"]);
    assert_eq!(anonymous["total"], 1);
    let member = app.json_as("/api/v1/routes", "member").await;
    assert_eq!(labels(&member), ["Alpha Site"]);
    let operator = app.json_as("/api/v1/routes", "operator").await;
    assert_eq!(labels(&operator), ["Alpha Site", "Op North"]);
    assert_eq!(operator["total"], 2);

    let alpha = &operator["items"][0];
    assert_eq!(alpha["id"], ALPHA);
    assert_eq!(alpha["visibility"], "community");
    assert_eq!(alpha["match_width"], 2);
    assert_eq!(alpha["clear_threshold"], 6);
    assert_eq!(alpha["max_path_length"], Value::Null);
    assert_eq!(alpha["reversible"], true);
    let nodes: Vec<(&str, &str)> = alpha["route_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["expected_hash"].as_str().unwrap(),
                n["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(nodes, [("A1FA", "Alpha Node"), ("B2B0", "Bravo Node")]);
    assert_eq!(alpha["route_nodes"][1]["position"], 1);
    assert_eq!(
        alpha["route_observers"],
        serde_json::json!([{
            "node_id": NORTH_OBSERVER_1,
            "name": "North Observer 1",
            "public_key": format!("aa01{}", "0".repeat(60)),
        }])
    );
    assert_eq!(
        alpha["route_result"],
        serde_json::json!({
            "state": "healthy", "quality": "clear", "matched_count": 7, "threshold": 3,
            "effective_clear": 6, "evaluated_at": "2026-11-26T05:16:39.884966Z",
        })
    );
    assert_eq!(alpha["quality_avg"], "clear");
    assert_eq!(alpha["created_by"], Value::Null);
    assert_eq!(alpha["owner"], Value::Null);
    // The operator route has no result and its creator no profile.
    let op = &operator["items"][1];
    assert_eq!(op["route_result"], Value::Null);
    assert_eq!(op["quality_avg"], Value::Null);
    assert_eq!(op["created_by"], "pw-operator");
    assert_eq!(op["owner"], Value::Null);
    // A list item has no detail lists.
    assert!(alpha.get("recent_matches").is_none());
}

#[tokio::test]
async fn list_orders_by_from_label_then_id_and_resolves_owners() {
    let app = fixture_app().await;
    // Same from_label as Alpha, smaller id: sorts first; owned by a profile.
    app.exec(&format!(
        "INSERT INTO routes (id, created_at, updated_at, from_label, to_label, visibility, match_width, \
         window_hours, packet_count_threshold, enabled, reversible, created_by) VALUES \
         ('0000-first', '{t}', '{t}', 'Alpha Site', 'Charlie Site', 'member', 1, 48, 5, 1, 1, 'op-north')",
        t = ago(0, 1)
    ))
    .await;
    let member = app.json_as("/api/v1/routes", "member").await;
    let ids: Vec<&str> = member["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0000-first", ALPHA]);
    assert_eq!(
        member["items"][0]["owner"],
        serde_json::json!({
            "user_id": "op-north", "name": "Op North", "callsign": "OPN1",
            "profile_id": "cb133b58-5708-4ae7-88a2-565cca9b233f",
        })
    );
    assert_eq!(member["items"][0]["route_nodes"], serde_json::json!([]));
    // An unknown visibility counts as community.
    app.exec(&format!(
        "UPDATE routes SET visibility = 'secret' WHERE id = '{OP}'"
    ))
    .await;
    assert_eq!(
        labels(&app.json("/api/v1/routes").await),
        ["Alpha Site", "Op North"]
    );
}

#[tokio::test]
async fn mine_keeps_the_callers_routes() {
    let app = fixture_app().await;
    let mine = get_with(
        &app,
        "/api/v1/routes?mine=true",
        "operator",
        Some("pw-operator"),
    )
    .await;
    assert_eq!(labels(&mine), ["Op North"]);
    assert_eq!(mine["total"], 1);
    let other = get_with(&app, "/api/v1/routes?mine=true", "operator", Some("u2")).await;
    assert_eq!(other["total"], 0);
    let no_header = get_with(&app, "/api/v1/routes?mine=true", "operator", None).await;
    assert_eq!(no_header, serde_json::json!({"items": [], "total": 0}));
    let not_mine = get_with(
        &app,
        "/api/v1/routes?mine=false",
        "operator",
        Some("pw-operator"),
    )
    .await;
    assert_eq!(not_mine["total"], 2);
    // Visibility still applies to one's own routes.
    let anonymous = get_with(&app, "/api/v1/routes?mine=1", "", Some("pw-operator")).await;
    assert_eq!(anonymous["total"], 0);
}

#[tokio::test]
async fn non_bool_mine_is_422() {
    let app = fixture_app().await;
    assert_422(app.get("/api/v1/routes?mine=maybe").await, "mine").await;
    assert_422(
        app.get(&format!("/api/v1/routes/{ALPHA}/history?days=x"))
            .await,
        "days",
    )
    .await;
}

#[tokio::test]
async fn detail_shows_the_stored_match() {
    let app = fixture_app().await;
    let detail = app.json(&format!("/api/v1/routes/{ALPHA}")).await;
    assert_eq!(detail["id"], ALPHA);
    assert_eq!(
        detail["recent_matches"],
        serde_json::json!([{
            "packet_hash": "ad010000000000000000000000000000",
            "hops": [
                {"position": 0, "node_hash": "A1FA", "packet_hash": "ad010000000000000000000000000000",
                 "event_hash": "00000000000000000000000000000001",
                 "received_at": "2026-11-26T04:51:39.884966Z", "observer_node_id": NORTH_OBSERVER_1},
                {"position": 1, "node_hash": "B2B0", "packet_hash": "ad010000000000000000000000000000",
                 "event_hash": "00000000000000000000000000000001",
                 "received_at": "2026-11-26T04:51:39.884966Z", "observer_node_id": NORTH_OBSERVER_1},
            ],
            "received_at": "2026-11-26T04:51:39.884966Z",
            "observer_node_id": NORTH_OBSERVER_1,
        }])
    );
    assert_eq!(
        detail["contributing_observers"],
        serde_json::json!([{"node_id": NORTH_OBSERVER_1, "name": "North Observer 1", "match_count": 1}])
    );
    assert_eq!(detail["route_result"]["matched_count"], 7);

    // Stored matches are shown for a disabled route too.
    app.exec(&format!(
        "UPDATE routes SET enabled = 0 WHERE id = '{ALPHA}'"
    ))
    .await;
    let disabled = app.json(&format!("/api/v1/routes/{ALPHA}")).await;
    assert_eq!(disabled["recent_matches"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn detail_keys_are_in_contract_order() {
    let app = fixture_app().await;
    let detail = app.json(&format!("/api/v1/routes/{ALPHA}")).await;
    let keys: Vec<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "from_label",
            "to_label",
            "description",
            "visibility",
            "match_width",
            "window_hours",
            "packet_count_threshold",
            "clear_threshold",
            "max_hop_span",
            "max_path_length",
            "enabled",
            "reversible",
            "route_nodes",
            "route_observers",
            "route_result",
            "quality_avg",
            "contributing_observers",
            "recent_matches",
            "created_by",
            "owner",
            "created_at",
            "updated_at",
        ]
    );
    let list = app.json("/api/v1/routes").await;
    let item_keys: Vec<&str> = list["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let without_detail: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| *k != "contributing_observers" && *k != "recent_matches")
        .collect();
    assert_eq!(item_keys, without_detail);
    let hop_keys: Vec<&str> = detail["recent_matches"][0]["hops"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        hop_keys,
        [
            "position",
            "node_hash",
            "packet_hash",
            "event_hash",
            "received_at",
            "observer_node_id"
        ]
    );
    let match_keys: Vec<&str> = detail["recent_matches"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        match_keys,
        ["packet_hash", "hops", "received_at", "observer_node_id"]
    );
}

#[tokio::test]
async fn hidden_and_missing_routes_are_404() {
    let app = fixture_app().await;
    for uri in [
        format!("/api/v1/routes/{OP}"),
        format!("/api/v1/routes/{OP}/history"),
        "/api/v1/routes/no-such-route".to_string(),
        "/api/v1/routes/no-such-route/history".to_string(),
    ] {
        let resp = app.get_as(&uri, "member").await;
        resp.assert_status(poem::http::StatusCode::NOT_FOUND);
        resp.assert_json(serde_json::json!({"detail": "Route not found"}))
            .await;
    }
    let op = app
        .json_as(&format!("/api/v1/routes/{OP}"), "operator")
        .await;
    assert_eq!(op["from_label"], "Op North");
    // No stored match, and nothing heard in its window: an empty live result.
    assert_eq!(op["recent_matches"], serde_json::json!([]));
    assert_eq!(op["contributing_observers"], serde_json::json!([]));
}

#[tokio::test]
async fn history_lengths_and_clamping() {
    let app = fixture_app().await;
    let days = |v: &Value| v["data"].as_array().unwrap().len();
    let default = app.json(&format!("/api/v1/routes/{ALPHA}/history")).await;
    assert_eq!(days(&default), 8);
    assert_eq!(default["days"], 8);
    assert_eq!(default["route_id"], ALPHA);
    let today = Utc::now().date_naive();
    assert_eq!(
        default["data"][7]["date"],
        today.format("%Y-%m-%d").to_string()
    );
    assert_eq!(
        default["data"][0]["date"],
        (today - Duration::days(7)).format("%Y-%m-%d").to_string()
    );
    // Today's entry is the current result.
    assert_eq!(
        default["data"][7],
        serde_json::json!({
            "date": today.format("%Y-%m-%d").to_string(),
            "quality": "clear", "state": "healthy", "matched_count": 7,
        })
    );
    let clamped = app
        .json(&format!("/api/v1/routes/{ALPHA}/history?days=100"))
        .await;
    assert_eq!(days(&clamped), 8);
    let negative = app
        .json(&format!("/api/v1/routes/{ALPHA}/history?days=-3"))
        .await;
    assert_eq!(days(&negative), 1);
    assert_eq!(negative["days"], 1);
    let two = app
        .json(&format!("/api/v1/routes/{ALPHA}/history?days=2"))
        .await;
    assert_eq!(days(&two), 3);
}

#[tokio::test]
async fn history_reads_stored_days_and_fills_gaps() {
    let app = fixture_app().await;
    let today = Utc::now().date_naive();
    let day = |n: i64| (today - Duration::days(n)).format("%Y-%m-%d").to_string();
    app.exec(&format!(
        "INSERT INTO route_result_history (id, created_at, updated_at, route_id, date, quality, state, matched_count, evaluated_at) \
         VALUES ('h-1', '{t}', '{t}', '{OP}', '{d1}', 'marginal', 'healthy', 4, '{t}'), \
                ('h-old', '{t}', '{t}', '{OP}', '{d9}', 'clear', 'healthy', 9, '{t}')",
        t = ago(0, 1),
        d1 = day(1),
        d9 = day(9),
    ))
    .await;
    let history = app
        .json_as(&format!("/api/v1/routes/{OP}/history?days=3"), "operator")
        .await;
    assert_eq!(
        history["data"],
        serde_json::json!([
            {"date": day(3), "quality": "unknown", "state": "no_coverage", "matched_count": 0},
            {"date": day(2), "quality": "unknown", "state": "no_coverage", "matched_count": 0},
            {"date": day(1), "quality": "marginal", "state": "healthy", "matched_count": 4},
            {"date": day(0), "quality": "unknown", "state": "no_coverage", "matched_count": 0},
        ])
    );
}

#[tokio::test]
async fn disabled_route_history_is_all_unknown() {
    let app = fixture_app().await;
    let today = Utc::now().date_naive();
    let yesterday = (today - Duration::days(1)).format("%Y-%m-%d");
    app.exec(&format!(
        "INSERT INTO route_result_history (id, created_at, updated_at, route_id, date, quality, state, matched_count, evaluated_at) \
         VALUES ('h-1', '{t}', '{t}', '{ALPHA}', '{yesterday}', 'clear', 'healthy', 9, '{t}'); \
         UPDATE routes SET enabled = 0 WHERE id = '{ALPHA}'",
        t = ago(0, 1),
    ))
    .await;
    let history = app.json(&format!("/api/v1/routes/{ALPHA}/history")).await;
    let data = history["data"].as_array().unwrap();
    assert_eq!(data.len(), 8);
    for entry in data {
        assert_eq!(entry["quality"], "unknown", "{entry}");
        assert_eq!(entry["state"], "no_coverage", "{entry}");
        assert_eq!(entry["matched_count"], 0, "{entry}");
    }
}

/// Inserts a raw packet and its hops, received `hours_ago` hours ago by `observer`.
async fn insert_packet(
    app: &TestApp,
    id: &str,
    hashes: &[&str],
    event: Option<&str>,
    observer: &str,
    hours_ago: i64,
) -> String {
    let at = ago(0, hours_ago);
    insert_packet_at(app, id, hashes, event, observer, &at).await;
    at
}

/// [`insert_packet`] received at the stored naive UTC text `at`.
async fn insert_packet_at(
    app: &TestApp,
    id: &str,
    hashes: &[&str],
    event: Option<&str>,
    observer: &str,
    at: &str,
) {
    let event_sql = event.map_or("NULL".to_string(), |e| format!("'{e}'"));
    let packet_sql = event.map_or("NULL".to_string(), |e| format!("'p{e}'"));
    app.exec(&format!(
        "INSERT INTO raw_packets (id, observer_node_id, packet_hash, event_hash, received_at, created_at, updated_at) \
         VALUES ('{id}', '{observer}', {packet_sql}, {event_sql}, '{at}', '{at}', '{at}')"
    ))
    .await;
    for (position, hash) in hashes.iter().enumerate() {
        app.exec(&format!(
            "INSERT INTO packet_path_hops (id, created_at, updated_at, raw_packet_id, position, node_hash, packet_hash, event_hash, received_at, observer_node_id) \
             VALUES ('{id}-{position}', '{at}', '{at}', '{id}', {position}, '{hash}', {packet_sql}, {event_sql}, '{at}', '{observer}')"
        ))
        .await;
    }
}

/// The RFC 3339 form of a stored naive UTC text.
fn rfc(stored: &str) -> String {
    let dt = chrono::NaiveDateTime::parse_from_str(stored, "%Y-%m-%d %H:%M:%S%.f").unwrap();
    hub_core::time::rfc3339(dt)
}

#[tokio::test]
async fn detail_computes_matches_live_when_none_are_stored() {
    let app = fixture_app().await;
    app.exec(&format!(
        "DELETE FROM route_recent_matches WHERE route_id = '{ALPHA}'"
    ))
    .await;
    // Alpha: A1FA then B2B0 at width 2, reversible, heard by North Observer 1 only, 48 h.
    let t1 = insert_packet(
        &app,
        "live-1",
        &["00", "A1FA", "77", "B2B0"],
        Some("e1"),
        NORTH_OBSERVER_1,
        3,
    )
    .await;
    let t2 = insert_packet(
        &app,
        "live-2",
        &["B2B0", "A1FA"],
        Some("e2"),
        NORTH_OBSERVER_1,
        2,
    )
    .await;
    // An older reception of e1: the newer one is kept.
    insert_packet(
        &app,
        "live-3",
        &["A1FA", "B2B0"],
        Some("e1"),
        NORTH_OBSERVER_1,
        5,
    )
    .await;
    // Outside the observer scope.
    insert_packet(
        &app,
        "live-4",
        &["A1FA", "B2B0"],
        Some("e4"),
        SOUTH_OBSERVER_1,
        1,
    )
    .await;
    // Neither hash: its own identity.
    let t5 = insert_packet(&app, "live-5", &["A1FA", "B2B0"], None, NORTH_OBSERVER_1, 4).await;
    // Outside the window.
    insert_packet(
        &app,
        "live-6",
        &["A1FA", "B2B0"],
        Some("e6"),
        NORTH_OBSERVER_1,
        72,
    )
    .await;
    // A 1-byte hop is not a 2-byte match.
    insert_packet(
        &app,
        "live-7",
        &["A1", "B2"],
        Some("e7"),
        NORTH_OBSERVER_1,
        1,
    )
    .await;

    let detail = app.json(&format!("/api/v1/routes/{ALPHA}")).await;
    let matches = detail["recent_matches"].as_array().unwrap();
    let summary: Vec<(Value, Value, Vec<Value>)> = matches
        .iter()
        .map(|m| {
            (
                m["packet_hash"].clone(),
                m["received_at"].clone(),
                m["hops"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| serde_json::json!([h["position"], h["node_hash"]]))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Value::from("pe2"),
                Value::from(rfc(&t2)),
                vec![
                    serde_json::json!([0, "B2B0"]),
                    serde_json::json!([1, "A1FA"])
                ]
            ),
            (
                Value::from("pe1"),
                Value::from(rfc(&t1)),
                vec![
                    serde_json::json!([1, "A1FA"]),
                    serde_json::json!([2, "77"]),
                    serde_json::json!([3, "B2B0"])
                ]
            ),
            (
                Value::Null,
                Value::from(rfc(&t5)),
                vec![
                    serde_json::json!([0, "A1FA"]),
                    serde_json::json!([1, "B2B0"])
                ]
            ),
        ]
    );
    assert_eq!(matches[0]["observer_node_id"], NORTH_OBSERVER_1);
    assert_eq!(matches[0]["hops"][0]["event_hash"], "e2");
    assert_eq!(
        detail["contributing_observers"],
        serde_json::json!([{"node_id": NORTH_OBSERVER_1, "name": "North Observer 1", "match_count": 3}])
    );
    // Reads persist nothing.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM route_recent_matches")
            .await,
        0
    );

    // A disabled route computes nothing live.
    app.exec(&format!(
        "UPDATE routes SET enabled = 0 WHERE id = '{ALPHA}'"
    ))
    .await;
    let disabled = app.json(&format!("/api/v1/routes/{ALPHA}")).await;
    assert_eq!(disabled["recent_matches"], serde_json::json!([]));
    assert_eq!(disabled["contributing_observers"], serde_json::json!([]));
}

#[tokio::test]
async fn live_matches_respect_one_way_routes_and_hop_span() {
    let app = fixture_app().await;
    // Op: C3C0 then D4D0 at width 1 (C3, D4), one-way, North Observer 2 only, 24 h, span 8.
    insert_packet(&app, "op-1", &["D4", "C3"], Some("r1"), NORTH_OBSERVER_2, 1).await;
    insert_packet(
        &app,
        "op-2",
        &["C3", "0", "1", "2", "3", "4", "5", "6", "7", "D4"],
        Some("r2"),
        NORTH_OBSERVER_2,
        1,
    )
    .await;
    insert_packet(
        &app,
        "op-3",
        &["C3C0", "99", "D4D0"],
        Some("r3"),
        NORTH_OBSERVER_2,
        2,
    )
    .await;
    insert_packet(&app, "op-4", &["C3", "D4"], Some("r4"), SOUTH_OBSERVER_1, 1).await;
    let detail = app
        .json_as(&format!("/api/v1/routes/{OP}"), "operator")
        .await;
    let hashes: Vec<&str> = detail["recent_matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["packet_hash"].as_str().unwrap())
        .collect();
    // op-1 is reversed (one-way route), op-2 spans 9 > 8, op-4 is another observer's.
    assert_eq!(hashes, ["pr3"]);
    assert_eq!(
        detail["contributing_observers"],
        serde_json::json!([{"node_id": NORTH_OBSERVER_2, "name": "North Observer 2", "match_count": 1}])
    );
}

fn redis_cache(port: u16) -> ResponseCache {
    let options = RedisOptions {
        prefix: "hub".into(),
        ..RedisOptions::local(port)
    };
    let backend: Arc<dyn CacheBackend> = Arc::new(RedisCache::new(options).expect("redis options"));
    ResponseCache::new(
        backend,
        std::time::Duration::from_secs(30),
        std::time::Duration::from_secs(30),
    )
}

/// GET as `roles` and `user`: (X-Cache, body bytes), asserting 200.
async fn fetch(app: &TestApp, uri: &str, roles: &str, user: Option<&str>) -> (String, Vec<u8>) {
    let mut request = app.client.get(uri).header("X-User-Roles", roles);
    if let Some(user) = user {
        request = request.header("X-User-Id", user);
    }
    let resp = request.send().await;
    resp.assert_status_is_ok();
    let cache = resp
        .0
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (cache, resp.0.into_body().into_vec().await.unwrap())
}

#[tokio::test]
async fn cached_detail_and_history_are_per_route() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port())).await;
    for suffix in ["", "/history"] {
        let alpha_uri = format!("/api/v1/routes/{ALPHA}{suffix}");
        let op_uri = format!("/api/v1/routes/{OP}{suffix}");
        let (first, alpha) = fetch(&app, &alpha_uri, "admin", None).await;
        assert_eq!(first, "MISS", "{alpha_uri}");
        let (again, alpha_again) = fetch(&app, &alpha_uri, "admin", None).await;
        assert_eq!(again, "HIT", "{alpha_uri}");
        assert_eq!(alpha, alpha_again);
        let (op_cache, op) = fetch(&app, &op_uri, "admin", None).await;
        assert_eq!(op_cache, "MISS", "{op_uri}");
        assert_ne!(alpha, op, "{op_uri} was served {alpha_uri}'s body");
        let op: Value = serde_json::from_slice(&op).unwrap();
        let id = if suffix.is_empty() {
            &op["id"]
        } else {
            &op["route_id"]
        };
        assert_eq!(id, OP);
    }
    // A cached admin detail is not served to a role that may not see the route.
    let resp = app.get(&format!("/api/v1/routes/{OP}")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn cached_mine_list_is_per_user() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port())).await;
    let uri = "/api/v1/routes?mine=true";
    let (first, owner_body) = fetch(&app, uri, "operator", Some("pw-operator")).await;
    assert_eq!(first, "MISS");
    let owner: Value = serde_json::from_slice(&owner_body).unwrap();
    assert_eq!(owner["total"], 1);
    let (other_cache, other) = fetch(&app, uri, "operator", Some("u2")).await;
    assert_eq!(other_cache, "MISS");
    let other: Value = serde_json::from_slice(&other).unwrap();
    assert_eq!(other["total"], 0, "u2 was served pw-operator's list");
    let (nobody_cache, nobody) = fetch(&app, uri, "operator", None).await;
    assert_eq!(nobody_cache, "MISS");
    assert_eq!(
        serde_json::from_slice::<Value>(&nobody).unwrap()["total"],
        0
    );
    let (again, again_body) = fetch(&app, uri, "operator", Some("pw-operator")).await;
    assert_eq!(again, "HIT");
    assert_eq!(again_body, owner_body);
    // Without `mine`, one entry serves every user of the role.
    let (_, _) = fetch(&app, "/api/v1/routes", "operator", Some("pw-operator")).await;
    let (shared, all) = fetch(&app, "/api/v1/routes", "operator", Some("u2")).await;
    assert_eq!(shared, "HIT");
    assert_eq!(serde_json::from_slice::<Value>(&all).unwrap()["total"], 2);
}

#[tokio::test]
async fn postgres_answers_like_sqlite() {
    use hub_core::entity::*;
    let pg = hub_core::test_support::PostgresServer::start();
    let db = hub_core::db::connect(&pg.url()).await.expect("connect");
    hub_core::db::prepare_schema(&db).await.expect("schema");
    let sqlite = fixture_app().await;
    copy_rows::<nodes::Entity>(&sqlite.db, &db).await;
    copy_rows::<user_profiles::Entity>(&sqlite.db, &db).await;
    copy_rows::<raw_packets::Entity>(&sqlite.db, &db).await;
    copy_rows::<packet_path_hops::Entity>(&sqlite.db, &db).await;
    copy_rows::<routes::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_nodes::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_observers::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_results::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_result_history::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_recent_matches::Entity>(&sqlite.db, &db).await;
    let postgres = app_over(db);

    let uris = [
        "/api/v1/routes".to_string(),
        format!("/api/v1/routes/{ALPHA}"),
        format!("/api/v1/routes/{OP}"),
        format!("/api/v1/routes/{ALPHA}/history?days=30"),
        format!("/api/v1/routes/{OP}/history"),
    ];
    let compare = |stage: &'static str| {
        let (sqlite, postgres, uris) = (&sqlite, &postgres, &uris);
        async move {
            for uri in uris {
                let left = sqlite.json_as(uri, "admin").await;
                let right = postgres.json_as(uri, "admin").await;
                assert_eq!(left, right, "{stage} {uri}: SQLite and PostgreSQL differ");
            }
        }
    };
    compare("stored").await;

    // Live matches: byte-order prefix ranges, time window and observer scope on both.
    // One set of times for both databases, so that the answers can be equal.
    let at: Vec<String> = (0..5).map(|h| ago(0, h)).collect();
    for app in [&sqlite, &postgres] {
        app.exec("DELETE FROM route_recent_matches").await;
        insert_packet_at(
            app,
            "live-1",
            &["00", "A1FA", "77", "B2B0"],
            Some("e1"),
            NORTH_OBSERVER_1,
            &at[3],
        )
        .await;
        insert_packet_at(
            app,
            "live-2",
            &["B2B0", "A1FA"],
            Some("e2"),
            NORTH_OBSERVER_1,
            &at[2],
        )
        .await;
        // Byte order: `A1F:` sorts below the range, `A1fa` above it.
        insert_packet_at(
            app,
            "live-3",
            &["A1F:", "A1FAFF", "B2B0"],
            None,
            NORTH_OBSERVER_1,
            &at[4],
        )
        .await;
        insert_packet_at(
            app,
            "live-4",
            &["A1fa", "B2B0"],
            Some("e4"),
            NORTH_OBSERVER_1,
            &at[1],
        )
        .await;
        insert_packet_at(
            app,
            "op-1",
            &["C3C0", "D4D0"],
            Some("r1"),
            NORTH_OBSERVER_2,
            &at[1],
        )
        .await;
    }
    compare("live").await;
    let live = postgres
        .json_as(&format!("/api/v1/routes/{ALPHA}"), "admin")
        .await;
    assert_eq!(live["recent_matches"].as_array().unwrap().len(), 3);
}
