//! Route writes and preview (docs/contract/api-2.md sections 5.2, 5.5-5.8) over a copy of MeshCore Hub's
//! sample database: "Alpha Site"->"Bravo Site" (community, legacy: no creator) and
//! "Op North"->"Op South" (operator, created by `pw-operator`). The sample's packets are kept
//! 55 to 57 hours old (see `fixture`), so tests use a 720-hour window.

use crate::common;
use crate::writes_support;

use common::*;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use serde_json::{Value, json};
use writes_support::*;

const ALPHA: &str = "a96c766c-0af9-4d40-9b28-7dfb153e0449";
const OP: &str = "59d18f4f-0c60-41d8-990b-505dbc39d48a";
const ALPHA_NODE: &str = "eeaea9ce-281c-449b-aac4-cb79ac8f60af";
const BRAVO_NODE: &str = "73969d02-aa6c-4e33-a86e-32eefbd23857";
const NORTH_OBSERVER_1: &str = "2efec766-82ed-43b7-946d-56d004101145";

/// The sample database with its packets moved forward by exactly the time since the fixture's
/// instant (2026-11-28 12:00 UTC), so that they are always as old as they were then: 55 to
/// 57 hours, inside the 720-hour windows below and outside the preview's default 48 hours
/// whatever the hour the test runs at (a shift by whole days left them inside those 48 hours
/// or not depending on the time of day).
async fn fixture() -> TestApp {
    let app = fixture_app().await;
    let fixture_instant = chrono::NaiveDate::from_ymd_opt(2026, 11, 28)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("valid instant")
        .and_utc();
    let seconds = (chrono::Utc::now() - fixture_instant).num_seconds();
    for table in ["raw_packets", "packet_path_hops"] {
        // `substr(.., 20)` keeps the fraction of a second exactly as stored.
        app.exec(&format!(
            "UPDATE {table} SET received_at = \
             datetime(received_at, '{seconds:+} seconds') || substr(received_at, 20)"
        ))
        .await;
    }
    app
}

fn key(stem: &str) -> String {
    pk(stem)
}

/// A valid create body from Charlie to Delta over Alpha and Bravo's keys.
fn route_body(from: &str, to: &str) -> Value {
    json!({
        "from_label": from,
        "to_label": to,
        "match_width": 2,
        "window_hours": 720,
        "packet_count_threshold": 3,
        "node_public_keys": [key("a1fa"), key("b2b0")],
        "observer_public_keys": [],
    })
}

async fn create_as(app: &TestApp, user: &str, roles: &str, body: Value) -> Value {
    let answer = post(app, "/api/v1/routes")
        .user(user, roles)
        .json(body)
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.2);
    answer.2
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar(sql).await
}

#[tokio::test]
async fn operator_creates_an_evaluated_route_and_gets_a_profile() {
    let app = fixture().await;
    let body = json!({
        "from_label": "North",
        "to_label": "South",
        "description": "test link",
        "match_width": 2,
        "window_hours": 720,
        "packet_count_threshold": 3,
        // Trimmed and lowercased; the unknown key is dropped.
        "node_public_keys": [format!("  {}", key("A1FA").to_uppercase()), key("ff"), key("b2b0")],
        // Unknown observers are dropped, a repeated one gives two rows.
        "observer_public_keys": [key("aa01"), key("ee"), key("aa01")],
    });
    let created = post(&app, "/api/v1/routes")
        .user("new-op", "operator")
        .header("X-User-Name", "New Op")
        .json(body)
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);
    let route = created.2;
    assert_eq!(route["created_by"], "new-op");
    assert_eq!(route["owner"]["user_id"], "new-op");
    assert_eq!(route["owner"]["name"], "New Op");
    assert_eq!(route["visibility"], "community");
    assert_eq!(route["max_hop_span"], 8);
    assert_eq!(route["clear_threshold"], Value::Null);
    assert_eq!(route["quality_avg"], Value::Null);
    let nodes: Vec<(&str, &str, i64)> = route["route_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["node_id"].as_str().unwrap(),
                n["expected_hash"].as_str().unwrap(),
                n["position"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(nodes, [(ALPHA_NODE, "A1FA", 0), (BRAVO_NODE, "B2B0", 1)]);
    let observers: Vec<&str> = route["route_observers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(observers, [NORTH_OBSERVER_1, NORTH_OBSERVER_1]);

    // Evaluated at once: the result is stored, and so are the recent matches.
    let result = &route["route_result"];
    assert_eq!(result["threshold"], 3);
    assert_eq!(result["effective_clear"], 9);
    assert!(result["matched_count"].as_i64().unwrap() > 0, "{result}");
    assert_eq!(result["state"], "healthy");
    let id = route["id"].as_str().unwrap();
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM route_results WHERE route_id = '{id}'")
        )
        .await,
        1
    );
    let stored = count(
        &app,
        &format!("SELECT count(*) FROM route_recent_matches WHERE route_id = '{id}'"),
    )
    .await;
    assert!((1..=3).contains(&stored), "{stored}");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM user_profiles WHERE user_id = 'new-op' AND roles = 'operator'"
        )
        .await,
        1
    );

    // The detail shows the persisted matches.
    let detail = app
        .json_as(&format!("/api/v1/routes/{id}"), "operator")
        .await;
    assert_eq!(
        detail["recent_matches"].as_array().unwrap().len() as i64,
        stored
    );
}

#[tokio::test]
async fn disabled_route_is_not_evaluated_and_admin_may_use_admin_visibility() {
    let app = fixture().await;
    let mut body = route_body("Admin A", "Admin B");
    body["enabled"] = json!(false);
    body["visibility"] = json!("admin");
    body["max_hop_span"] = Value::Null;
    body["clear_threshold"] = json!(4);
    let route = create_as(&app, "root", "admin", body).await;
    assert_eq!(route["route_result"], Value::Null);
    assert_eq!(route["visibility"], "admin");
    assert_eq!(route["max_hop_span"], Value::Null);
    assert_eq!(route["clear_threshold"], 4);
    let id = route["id"].as_str().unwrap();
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM route_results WHERE route_id = '{id}'")
        )
        .await,
        0
    );
}

#[tokio::test]
async fn failed_creates_change_nothing() {
    let app = fixture().await;
    let routes_before = count(&app, "SELECT count(*) FROM routes").await;
    // Tier check.
    let mut body = route_body("X", "Y");
    body["visibility"] = json!("admin");
    let answer = post(&app, "/api/v1/routes")
        .user("op-1", "operator")
        .json(body)
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::FORBIDDEN,
        "Cannot set route visibility above your own role",
    );
    // Duplicate pair, compared exactly.
    let answer = post(&app, "/api/v1/routes")
        .user("op-1", "operator")
        .json(route_body("Alpha Site", "Bravo Site"))
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::CONFLICT,
        "Route 'Alpha Site' -> 'Bravo Site' already exists",
    );
    create_as(
        &app,
        "op-1",
        "operator",
        route_body("alpha site", "Bravo Site"),
    )
    .await;
    // Fewer than 2 resolved nodes.
    let mut body = route_body("P", "Q");
    body["node_public_keys"] = json!([key("a1fa"), key("ff")]);
    let answer = post(&app, "/api/v1/routes")
        .user("op-2", "operator")
        .json(body)
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::BAD_REQUEST,
        "Could not resolve >= 2 path nodes",
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM routes").await,
        routes_before + 1
    );
    // The failed requests created no profile (a Decision: unlike MeshCore Hub).
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM user_profiles WHERE user_id = 'op-2'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn auth_comes_before_body_validation() {
    let app = fixture().await;
    let answer = post(&app, "/api/v1/routes")
        .raw("{broken", Some("application/json"))
        .send()
        .await;
    assert_detail(&answer, StatusCode::UNAUTHORIZED, "User identity required");
    let answer = post(&app, "/api/v1/routes")
        .user("m", "member")
        .json(json!({}))
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::FORBIDDEN,
        "Operator or admin role required",
    );
}

#[tokio::test]
async fn body_422s_follow_pydantic() {
    let app = fixture().await;
    let send = |body: Value| {
        let app = &app;
        async move {
            post(app, "/api/v1/routes")
                .user("op", "operator")
                .json(body)
                .send()
                .await
        }
    };
    let mut one = route_body("A", "B");
    one["node_public_keys"] = json!([key("a1fa")]);
    let issue = first_issue(&send(one.clone()).await);
    assert_eq!(issue["type"], "value_error");
    assert_eq!(issue["loc"], json!(["body"]));
    assert_eq!(
        issue["msg"],
        "Value error, At least 2 path nodes are required"
    );
    assert_eq!(issue["input"], one);

    let mut same = route_body("A", "B");
    same["node_public_keys"] = json!(["AB", "ab"]);
    let issue = first_issue(&send(same).await);
    assert_eq!(issue["msg"], "Value error, Path nodes must be distinct");

    let mut clear = route_body("A", "B");
    clear["clear_threshold"] = json!(3);
    let issue = first_issue(&send(clear).await);
    assert_eq!(
        issue["msg"],
        "Value error, clear_threshold must be > packet_count_threshold"
    );

    let mut bounds = route_body("A", "B");
    bounds["match_width"] = json!(4);
    bounds["window_hours"] = json!("0");
    bounds["visibility"] = json!("public");
    bounds["packet_count_threshold"] = json!(2.5);
    let answer = send(bounds).await;
    assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY);
    let kinds: Vec<(&str, &str)> = answer.2["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["loc"][1].as_str().unwrap(), i["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("visibility", "literal_error"),
            ("match_width", "less_than_equal"),
            ("window_hours", "greater_than_equal"),
            ("packet_count_threshold", "int_from_float"),
        ]
    );
    assert_eq!(
        answer.2["detail"][0]["msg"],
        "Input should be 'community', 'member', 'operator' or 'admin'"
    );
    assert_eq!(
        answer.2["detail"][1]["msg"],
        "Input should be less than or equal to 3"
    );

    let issue = first_issue(&send(json!({"to_label": "B", "node_public_keys": []})).await);
    assert_eq!(issue["type"], "missing");
    assert_eq!(issue["loc"], json!(["body", "from_label"]));
}

#[tokio::test]
async fn owner_edits_and_null_means_unchanged() {
    let app = fixture().await;
    let route = create_as(&app, "op-1", "operator", route_body("N1", "S1")).await;
    let id = route["id"].as_str().unwrap();
    let answer = put(&app, &format!("/api/v1/routes/{id}"))
        .user("op-1", "operator")
        .json(json!({
            "to_label": "S2",
            "description": "edited",
            "max_hop_span": null,
            "clear_threshold": 2,
            "match_width": 1,
            "node_public_keys": [key("b2b0"), key("a1fa")],
        }))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    let edited = answer.2;
    assert_eq!(edited["from_label"], "N1");
    assert_eq!(edited["to_label"], "S2");
    assert_eq!(edited["description"], "edited");
    assert_eq!(edited["max_hop_span"], 8);
    assert_eq!(edited["clear_threshold"], 2);
    let hashes: Vec<&str> = edited["route_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["expected_hash"].as_str().unwrap())
        .collect();
    assert_eq!(hashes, ["B2", "A1"]);
    // Re-evaluated with the new clear bar (a clear threshold below the count is stored).
    assert_eq!(edited["route_result"]["effective_clear"], 2);
    assert_eq!(edited["route_result"]["quality"], "clear");

    // Repeating the current values leaves updated_at alone (section 0.5).
    let again = put(&app, &format!("/api/v1/routes/{id}"))
        .user("op-1", "operator")
        .json(json!({"description": "edited", "to_label": "S2", "max_hop_span": 8}))
        .send()
        .await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.2);
    assert_eq!(again.2["updated_at"], edited["updated_at"]);

    // A label pair taken by another route.
    let answer = put(&app, &format!("/api/v1/routes/{id}"))
        .user("op-1", "operator")
        .json(json!({"from_label": "Alpha Site", "to_label": "Bravo Site"}))
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::CONFLICT,
        "Route 'Alpha Site' -> 'Bravo Site' already exists",
    );
    // Another operator may not edit it; an admin may.
    let answer = put(&app, &format!("/api/v1/routes/{id}"))
        .user("op-2", "operator")
        .json(json!({"description": "x"}))
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::FORBIDDEN,
        "You can only modify routes you created",
    );
    let answer = put(&app, &format!("/api/v1/routes/{id}"))
        .user("root", "admin")
        .json(json!({"enabled": false}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(answer.2["created_by"], "op-1");
    assert_eq!(answer.2["enabled"], false);
}

#[tokio::test]
async fn legacy_routes_are_admin_only_and_claimed_by_the_admin() {
    let app = fixture().await;
    let answer = put(&app, &format!("/api/v1/routes/{ALPHA}"))
        .user("op-1", "operator")
        .json(json!({"description": "mine"}))
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::FORBIDDEN,
        "You can only modify routes you created",
    );
    let answer = delete(&app, &format!("/api/v1/routes/{ALPHA}"))
        .user("op-1", "operator")
        .send()
        .await;
    assert_detail(
        &answer,
        StatusCode::FORBIDDEN,
        "You can only modify routes you created",
    );
    let answer = put(&app, &format!("/api/v1/routes/{ALPHA}"))
        .user("root", "admin")
        .json(json!({"description": "claimed"}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(answer.2["created_by"], "root");
    // The persisted quality_avg is shown after the re-evaluation (7 history days exist).
    assert!(answer.2["quality_avg"].is_string(), "{}", answer.2);
}

#[tokio::test]
async fn hidden_routes_answer_404_and_deletes_cascade() {
    let app = fixture().await;
    let admin_route = {
        let mut body = route_body("Hidden", "Route");
        body["visibility"] = json!("admin");
        create_as(&app, "root", "admin", body).await
    };
    let hidden = admin_route["id"].as_str().unwrap();
    for answer in [
        put(&app, &format!("/api/v1/routes/{hidden}"))
            .user("root", "operator")
            .json(json!({}))
            .send()
            .await,
        delete(&app, &format!("/api/v1/routes/{hidden}"))
            .user("root", "operator")
            .send()
            .await,
        delete(&app, "/api/v1/routes/no-such-route")
            .user("root", "admin")
            .send()
            .await,
    ] {
        assert_detail(&answer, StatusCode::NOT_FOUND, "Route not found");
    }
    // The owner of the operator route deletes it: 204 without a body or content type.
    let answer = delete(&app, &format!("/api/v1/routes/{OP}"))
        .user("pw-operator", "operator")
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    assert_eq!(answer.1, None);
    assert_eq!(answer.2, Value::Null);
    for table in [
        "routes WHERE id",
        "route_nodes WHERE route_id",
        "route_observers WHERE route_id",
        "route_results WHERE route_id",
        "route_result_history WHERE route_id",
        "route_recent_matches WHERE route_id",
    ] {
        assert_eq!(
            count(&app, &format!("SELECT count(*) FROM {table} = '{OP}'")).await,
            0,
            "{table}"
        );
    }
    let answer = delete(&app, &format!("/api/v1/routes/{ALPHA}"))
        .user("root", "admin")
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) FROM route_result_history WHERE route_id = '{ALPHA}'")
        )
        .await,
        0
    );
}

#[tokio::test]
async fn preview_answers_without_identity_and_writes_nothing() {
    let app = fixture().await;
    let rows_before = count(&app, "SELECT count(*) FROM route_results").await;
    let answer = post(&app, "/api/v1/routes/preview")
        .json(json!({
            "node_public_keys": [key("a1fa"), key("b2b0")],
            "match_width": 2,
            "window_hours": 720,
            "packet_count_threshold": 3,
        }))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    let preview = answer.2;
    let keys: Vec<&String> = preview.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "matched_count",
            "quality",
            "state",
            "contributing_observers",
            "collisions",
            "truncated",
            "candidate_count"
        ]
    );
    assert!(preview["matched_count"].as_i64().unwrap() > 0, "{preview}");
    assert_eq!(preview["state"], "healthy");
    assert_eq!(preview["truncated"], false);
    assert_eq!(preview["candidate_count"], Value::Null);
    assert_eq!(preview["collisions"], json!({ALPHA_NODE: 1, BRAVO_NODE: 1}));
    let observed: i64 = preview["contributing_observers"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert!(observed >= preview["matched_count"].as_i64().unwrap());
    assert_eq!(
        count(&app, "SELECT count(*) FROM route_results").await,
        rows_before
    );

    // Fewer than 2 resolved nodes: the short answer.
    let answer = post(&app, "/api/v1/routes/preview")
        .json(json!({"node_public_keys": [key("a1fa"), key("ff")]}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK);
    assert_eq!(
        answer.2,
        json!({"matched_count":0,"quality":"unknown","state":"no_coverage","contributing_observers":{},"collisions":{},"truncated":false,"candidate_count":null})
    );
    // Same validation as create.
    let issue = first_issue(
        &post(&app, "/api/v1/routes/preview")
            .json(json!({"node_public_keys": ["x"]}))
            .send()
            .await,
    );
    assert_eq!(
        issue["msg"],
        "Value error, At least 2 path nodes are required"
    );
}

#[tokio::test]
async fn preview_counts_collisions_by_expected_hash() {
    let app = fixture().await;
    // A second node whose key shares Alpha's first byte.
    insert_node(&app, "alpha-twin", &key("a1bb"), Some("Twin"), None).await;
    let answer = post(&app, "/api/v1/routes/preview")
        .json(json!({"node_public_keys": [key("a1fa"), key("b2b0")], "window_hours": 720}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(
        answer.2["collisions"],
        json!({ALPHA_NODE: 2, BRAVO_NODE: 1})
    );
}

/// The dashboard's route editor (docs/contract/api-2.md section 10): create, list, detail, edit, delete.
#[tokio::test]
async fn route_editor_flow() {
    let app = fixture().await;
    let mut body = route_body("Editor From", "Editor To");
    body["description"] = Value::Null;
    body["max_path_length"] = Value::Null;
    body["enabled"] = json!(true);
    body["reversible"] = json!(true);
    body["visibility"] = json!("member");
    let created = create_as(&app, "ed", "operator", body).await;
    let id = created["id"].as_str().unwrap().to_string();

    let mine = app_get(&app, "/api/v1/routes?mine=true", "ed").await;
    let ids: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let detail = app.json_as(&format!("/api/v1/routes/{id}"), "member").await;
    assert_eq!(detail["from_label"], "Editor From");
    let history = app
        .json_as(&format!("/api/v1/routes/{id}/history?days=6"), "member")
        .await;
    assert_eq!(history["days"], 7);

    let answer = put(&app, &format!("/api/v1/routes/{id}"))
        .user("ed", "operator")
        .json(json!({
            "from_label": "Editor From",
            "to_label": "Editor To 2",
            "description": null,
            "visibility": "member",
            "match_width": 2,
            "window_hours": 720,
            "packet_count_threshold": 3,
            "max_hop_span": 4,
            "max_path_length": null,
            "enabled": true,
            "reversible": false,
            "node_public_keys": [key("a1fa"), key("b2b0")],
            "observer_public_keys": [],
        }))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    let detail = app.json_as(&format!("/api/v1/routes/{id}"), "member").await;
    assert_eq!(detail["to_label"], "Editor To 2");
    assert_eq!(detail["max_hop_span"], 4);
    assert_eq!(detail["reversible"], false);

    let answer = delete(&app, &format!("/api/v1/routes/{id}"))
        .user("ed", "operator")
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    app.get_as(&format!("/api/v1/routes/{id}"), "member")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let all = app.json_as("/api/v1/routes", "admin").await;
    assert_eq!(all["total"], 2);
}

async fn app_get(app: &TestApp, uri: &str, user: &str) -> Value {
    let resp = app
        .client
        .get(uri)
        .header("X-User-Id", user)
        .header("X-User-Roles", "operator")
        .send()
        .await;
    resp.assert_status_is_ok();
    resp.json().await.value().deserialize()
}

#[tokio::test]
async fn route_writes_invalidate_the_cached_list() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let alpha = format!("/api/v1/routes/{ALPHA}");
    let others = ["/api/v1/dashboard/routes-overview", alpha.as_str()];
    for uri in ["/api/v1/routes"].iter().chain(&others) {
        let first = app.get_as(uri, "operator").await;
        assert_eq!(x_cache_of(&first), "MISS", "{uri}");
        let second = app.get_as(uri, "operator").await;
        assert_eq!(x_cache_of(&second), "HIT", "{uri}");
    }
    let created = create_as(&app, "op-1", "operator", route_body("Cached", "Route")).await;
    for uri in others {
        let after = app.get_as(uri, "operator").await;
        after.assert_status_is_ok();
        assert_eq!(x_cache_of(&after), "MISS", "{uri}");
    }
    let after = app.get_as("/api/v1/routes", "operator").await;
    assert_eq!(x_cache_of(&after), "MISS");
    let list: Value = after.json().await.value().deserialize();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == created["id"])
    );
    let answer = delete(
        &app,
        &format!("/api/v1/routes/{}", created["id"].as_str().unwrap()),
    )
    .user("op-1", "operator")
    .send()
    .await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    let after = app.get_as("/api/v1/routes", "operator").await;
    assert_eq!(x_cache_of(&after), "MISS");
    let list: Value = after.json().await.value().deserialize();
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn preview_needs_the_read_key_when_one_is_set() {
    let app = fixture_app_with(hub_core::settings::AuthSettings {
        read_key: Some("r".to_string()),
        admin_key: Some("a".to_string()),
    })
    .await;
    let body = json!({"node_public_keys": [key("a1fa"), key("b2b0")]});
    let answer = post(&app, "/api/v1/routes/preview")
        .json(body.clone())
        .send()
        .await;
    assert_detail(&answer, StatusCode::UNAUTHORIZED, "Authentication required");
    let answer = post(&app, "/api/v1/routes/preview")
        .header("Authorization", "Bearer r")
        .json(body)
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
}

/// The same writes on MeshCore Hub's PostgreSQL dump (schema `meshcorehub`): create with
/// evaluation, preview, edit, delete.
#[tokio::test]
async fn writes_work_on_postgres() {
    let (_pg, target) = common::meshcore_hub_postgres();
    let app = app_over(hub_core::db::connect_to(&target).await.unwrap());

    let created = create_as(&app, "pg-op", "operator", route_body("PG From", "PG To")).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["owner"]["user_id"], "pg-op");
    assert_eq!(created["route_result"]["threshold"], 3);
    assert!(created["route_result"]["state"].is_string());

    let answer = post(&app, "/api/v1/routes/preview")
        .json(json!({"node_public_keys": [key("a1fa"), key("b2b0")], "match_width": 2}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    // The dump has its own ids: the collisions name the created route's path nodes.
    let path: Vec<&str> = created["route_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(path.len(), 2);
    assert_eq!(answer.2["collisions"], json!({path[0]: 1, path[1]: 1}));

    let answer = put(&app, &format!("/api/v1/routes/{id}"))
        .user("pg-op", "operator")
        .json(json!({"to_label": "PG To 2", "observer_public_keys": [key("aa01")]}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(answer.2["to_label"], "PG To 2");
    assert_eq!(answer.2["route_observers"][0]["name"], "North Observer 1");
    let legacy = app.json("/api/v1/routes").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = put(&app, &format!("/api/v1/routes/{legacy}"))
        .user("pg-admin", "admin")
        .json(json!({"description": "claimed"}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(answer.2["created_by"], "pg-admin");

    let answer = delete(&app, &format!("/api/v1/routes/{id}"))
        .user("pg-op", "operator")
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    app.get(&format!("/api/v1/routes/{id}"))
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

/// Over 5000 candidates (counted per end, so packets holding both ends count twice) the
/// preview gives up without loading any hop.
#[tokio::test]
async fn preview_truncates_over_5000_candidates() {
    let app = fixture().await;
    // 2600 packets whose path holds C3C0 then D4D0: 5200 candidates both ways, 2600 one way.
    app.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2600) \
         INSERT INTO raw_packets (id, received_at, created_at, updated_at) \
         SELECT 'bulk-' || i, '{t}', '{t}', '{t}' FROM n; \
         INSERT INTO packet_path_hops (id, raw_packet_id, position, node_hash, packet_hash, received_at) \
         SELECT 'hop-a-' || id, id, 0, 'C3C0', id, received_at FROM raw_packets WHERE id LIKE 'bulk-%'; \
         INSERT INTO packet_path_hops (id, raw_packet_id, position, node_hash, packet_hash, received_at) \
         SELECT 'hop-b-' || id, id, 1, 'D4D0', id, received_at FROM raw_packets WHERE id LIKE 'bulk-%';",
        t = ago(0, 1)
    ))
    .await;
    let body = |reversible: bool| {
        json!({
            "node_public_keys": [key("c3c0"), key("d4d0")],
            "match_width": 2,
            "reversible": reversible,
        })
    };
    let answer = post(&app, "/api/v1/routes/preview")
        .json(body(true))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(
        answer.2,
        json!({"matched_count":null,"quality":null,"state":null,"contributing_observers":{},"collisions":{},"truncated":true,"candidate_count":5200})
    );
    let answer = post(&app, "/api/v1/routes/preview")
        .json(body(false))
        .send()
        .await;
    assert_eq!(answer.2["truncated"], false, "{}", answer.2);
    assert_eq!(answer.2["matched_count"], 2600);
    assert_eq!(answer.2["quality"], "clear");
}
