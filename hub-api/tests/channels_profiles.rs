//! `/api/v1/channels` visibility and `/api/v1/user/profiles`.

use crate::common;

use common::*;
use poem::http::StatusCode;

async fn add_channel(app: &TestApp, name: &str, hash: &str, visibility: &str) {
    app.exec(&format!(
        "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) \
         VALUES ('{name}', '{name}', '{name}-key-0123456789', '{hash}', '{visibility}', 1, '{t}', '{t}')",
        t = ago(1, 0)
    ))
    .await;
}

fn names(body: &serde_json::Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn channels_are_filtered_by_role_and_ordered_by_name() {
    let app = empty_app().await;
    add_channel(&app, "ops", "0A", "operator").await;
    add_channel(&app, "admins", "0B", "admin").await;
    add_channel(&app, "members", "0C", "member").await;
    add_channel(&app, "public-ish", "0D", "community").await;
    add_channel(&app, "weird", "0E", "mystery").await;

    let anon = app.json("/api/v1/channels?limit=100").await;
    assert_eq!(names(&anon), ["public-ish", "weird"]);
    assert_eq!(anon["total"], 2);
    assert_eq!(
        names(&app.json_as("/api/v1/channels", "member").await),
        ["members", "public-ish", "weird"]
    );
    assert_eq!(
        names(&app.json_as("/api/v1/channels", "member, operator").await),
        ["members", "ops", "public-ish", "weird"]
    );
    assert_eq!(app.json_as("/api/v1/channels", "admin").await["total"], 5);
    // Role names are exact.
    assert_eq!(
        app.json_as("/api/v1/channels", "Admin,superadmin").await["total"],
        2
    );
}

#[tokio::test]
async fn channel_item_shape() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/channels").await;
    let top: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["items", "total"]);
    let item = body["items"][0].as_object().unwrap();
    let fields: Vec<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "id",
            "name",
            "channel_hash",
            "visibility",
            "enabled",
            "masked_key",
            "key_hex",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(item["name"], "E2E General");
    assert_eq!(item["masked_key"], "0011...eeff");
    assert_eq!(item["enabled"], true);
}

#[tokio::test]
async fn profiles_list_excludes_test_role_by_default() {
    let app = fixture_app().await;
    app.exec(&format!(
        "INSERT INTO user_profiles (id, user_id, name, roles, created_at, updated_at) VALUES \
         ('p-test', 'tester', 'Aaron Test', 'member, test', '{t}', '{t}'), \
         ('p-tester', 'tester2', NULL, 'tester', '{t}', '{t}')",
        t = ago(0, 1)
    ))
    .await;
    let body = app.json("/api/v1/user/profiles").await;
    assert_eq!(body["total"], 5);
    assert_eq!(body["limit"], 100);
    let order: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    // By name, NULL names last.
    assert_eq!(
        order,
        [
            "01305bb4-976a-427b-8c30-4ab1f8bf6ef2",
            "cb133b58-5708-4ae7-88a2-565cca9b233f",
            "75f8459c-5144-4d7b-b325-f525e18ea243",
            "a64055c2-8b50-40f1-a5ea-1a3e18b506cc",
            "p-tester"
        ]
    );
    let with_test = app.json("/api/v1/user/profiles?exclude_test=false").await;
    assert_eq!(with_test["total"], 6);
    assert_eq!(
        with_test["items"][0]["roles"],
        serde_json::json!(["member", "test"])
    );
    assert_422(
        app.get("/api/v1/user/profiles?exclude_test=maybe").await,
        "exclude_test",
    )
    .await;
    assert_422(app.get("/api/v1/user/profiles?limit=501").await, "limit").await;
}

#[tokio::test]
async fn profile_shapes_and_adopted_nodes() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/user/profiles?limit=2").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let first = body["items"][0].as_object().unwrap();
    let fields: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "id",
            "name",
            "callsign",
            "roles",
            "description",
            "url",
            "node_count",
            "adopted_nodes"
        ]
    );
    assert_eq!(first["name"], "Mem South");
    assert_eq!(first["node_count"], 1);
    let node: Vec<&str> = first["adopted_nodes"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        node,
        ["public_key", "name", "adv_type", "adopted_at", "last_seen"]
    );
    assert_eq!(first["adopted_nodes"][0]["public_key"], pk("b2b"));

    let one = app
        .json("/api/v1/user/profile/75f8459c-5144-4d7b-b325-f525e18ea243")
        .await;
    let fields: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "name",
            "callsign",
            "roles",
            "description",
            "url",
            "created_at",
            "updated_at",
            "nodes"
        ]
    );
    assert_eq!(one["roles"], serde_json::json!(["admin", "member"]));
    assert_eq!(one["nodes"], serde_json::json!([]));

    let missing = app.get("/api/v1/user/profile/nope").await;
    missing.assert_status(StatusCode::NOT_FOUND);
    missing
        .assert_json(serde_json::json!({"detail": "Profile not found"}))
        .await;
    // A read never writes: still four profiles.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM user_profiles").await, 4);
}

const ME: &str = "/api/v1/user/profile/me";

#[tokio::test]
async fn profile_me_needs_an_identity() {
    let app = fixture_app().await;
    let resp = app.get(ME).await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    assert!(resp.0.headers().get("www-authenticate").is_none());
    resp.assert_json(serde_json::json!({"detail": "User identity required"}))
        .await;
    let resp = app.client.get(ME).header("X-User-Id", "").send().await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn profile_me_creates_then_refreshes_roles_only() {
    let app = fixture_app().await;
    let before = app.scalar("SELECT COUNT(*) FROM user_profiles").await;
    let me = |roles: Option<&'static str>, name: &'static str| {
        let mut req = app
            .client
            .get(ME)
            .header("X-User-Id", "new-user")
            .header("X-User-Name", name);
        if let Some(roles) = roles {
            req = req.header("X-User-Roles", roles);
        }
        async move {
            let resp = req.send().await;
            resp.assert_status_is_ok();
            resp.json().await.value().deserialize::<serde_json::Value>()
        }
    };
    let created = me(Some("member, ,test"), "New User").await;
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "user_id",
            "name",
            "callsign",
            "roles",
            "description",
            "url",
            "created_at",
            "updated_at",
            "nodes"
        ]
    );
    assert_eq!(created["user_id"], "new-user");
    assert_eq!(created["name"], "New User");
    assert_eq!(created["roles"], serde_json::json!(["member", "test"]));
    assert_eq!(created["nodes"], serde_json::json!([]));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles").await,
        before + 1
    );
    // The raw header is stored as sent.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles WHERE user_id = 'new-user' AND roles = 'member, ,test'")
            .await,
        1
    );

    // Same user again: no new row, the name stays, the roles follow the header.
    let again = me(Some("operator"), "Renamed").await;
    assert_eq!(again["id"], created["id"]);
    assert_eq!(again["name"], "New User");
    assert_eq!(again["roles"], serde_json::json!(["operator"]));
    let cleared = me(None, "Renamed").await;
    assert_eq!(cleared["roles"], serde_json::json!([]));
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM user_profiles WHERE user_id = 'new-user' AND roles IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles").await,
        before + 1
    );
}

#[tokio::test]
async fn profile_me_skips_the_read_key_check_but_its_identity_needs_the_admin_key() {
    let app = fixture_app_with(hub_core::settings::AuthSettings {
        read_key: Some("r".into()),
        admin_key: Some("a".into()),
    })
    .await;
    // Not the key check's 401: the path is keyless, but without the admin key the
    // identity headers do not count (docs/configuration.md#identity-headers).
    let resp = app.client.get(ME).header("X-User-Id", "u9").send().await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    resp.assert_json(serde_json::json!({"detail": "User identity required"}))
        .await;
    let resp = app
        .client
        .get(ME)
        .header("X-User-Id", "u9")
        .header("Authorization", "Bearer a")
        .send()
        .await;
    resp.assert_status_is_ok();
    // Other reads still need the key.
    app.get("/api/v1/user/profiles")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
}
