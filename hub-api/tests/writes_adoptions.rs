//! Adoptions (docs/contract/api-2.md sections 7.7-7.8) and the dashboard's adopt/release flow (section 10).

use crate::common;
use crate::writes_support;

use common::*;
use poem::http::StatusCode;
use serde_json::{Value, json};
use writes_support::*;

/// Adopted by op-north in the fixture.
const ALPHA: &str = "a1fa000000000000000000000000000000000000000000000000000000000000";
/// Not adopted.
const CHARLIE: &str = "c3c0000000000000000000000000000000000000000000000000000000000000";

async fn adopter(app: &TestApp, pk: &str) -> Value {
    app.json(&format!("/api/v1/nodes/{pk}")).await["adopted_by"].clone()
}

#[tokio::test]
async fn adopt_and_release_flow() {
    let app = fixture_app().await;
    let adopted = post(&app, "/api/v1/adoptions")
        .user("op-north", "operator,member")
        .json(json!({"public_key": CHARLIE.to_uppercase()}))
        .send()
        .await;
    assert_eq!(adopted.0, StatusCode::CREATED, "{}", adopted.2);
    assert_eq!(adopted.2["public_key"], CHARLIE);
    assert_eq!(adopted.2["name"], "Charlie Node");
    assert_eq!(adopted.2["last_seen"], Value::Null);
    assert_eq!(adopter(&app, CHARLIE).await["user_id"], "op-north");
    let me = app
        .client
        .get("/api/v1/user/profile/me")
        .header("X-User-Id", "op-north")
        .header("X-User-Roles", "operator,member")
        .send()
        .await;
    let me: Value = me.json().await.value().deserialize();
    assert!(
        me["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["public_key"] == CHARLIE)
    );

    let twice = post(&app, "/api/v1/adoptions")
        .user("op-north", "operator")
        .json(json!({"public_key": CHARLIE}))
        .send()
        .await;
    assert_detail(
        &twice,
        StatusCode::CONFLICT,
        "Node already adopted by this user",
    );
    let other = post(&app, "/api/v1/adoptions")
        .user("pw-admin", "admin")
        .json(json!({"public_key": CHARLIE}))
        .send()
        .await;
    assert_detail(
        &other,
        StatusCode::CONFLICT,
        "Node already adopted by another user",
    );
    // A failed adoption changed nothing: op-north keeps the roles of its last success.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles WHERE user_id = 'op-north' AND roles = 'operator,member'")
            .await,
        1
    );

    let not_owner = delete(&app, &format!("/api/v1/adoptions/{CHARLIE}"))
        .user("someone", "operator")
        .send()
        .await;
    assert_detail(
        &not_owner,
        StatusCode::FORBIDDEN,
        "Only the adopting user or an admin can release this node",
    );
    let released = delete(&app, &format!("/api/v1/adoptions/{CHARLIE}"))
        .user("op-north", "operator")
        .send()
        .await;
    assert_eq!(released.0, StatusCode::NO_CONTENT);
    assert_eq!(released.1, None);
    assert_eq!(adopter(&app, CHARLIE).await, Value::Null);
    let again = delete(&app, &format!("/api/v1/adoptions/{CHARLIE}"))
        .user("op-north", "operator")
        .send()
        .await;
    assert_detail(&again, StatusCode::NOT_FOUND, "Node is not adopted");
    // An admin releases anyone's node.
    let by_admin = delete(&app, &format!("/api/v1/adoptions/{ALPHA}"))
        .user("pw-admin", "member, admin")
        .send()
        .await;
    assert_eq!(by_admin.0, StatusCode::NO_CONTENT);
    assert_eq!(adopter(&app, ALPHA).await, Value::Null);
}

#[tokio::test]
async fn errors_change_nothing() {
    let app = fixture_app().await;
    let unknown = post(&app, "/api/v1/adoptions")
        .user("newcomer", "operator")
        .header("X-User-Name", "New")
        .json(json!({"public_key": "FFFF"}))
        .send()
        .await;
    assert_detail(
        &unknown,
        StatusCode::NOT_FOUND,
        "Node with public_key 'ffff' not found",
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles WHERE user_id = 'newcomer'")
            .await,
        0
    );
    let release_unknown = delete(&app, "/api/v1/adoptions/FFFF")
        .user("newcomer", "operator")
        .send()
        .await;
    assert_detail(
        &release_unknown,
        StatusCode::NOT_FOUND,
        "Node with public_key 'FFFF' not found",
    );

    let too_long = post(&app, "/api/v1/adoptions")
        .user("newcomer", "operator")
        .json(json!({"public_key": "a".repeat(65)}))
        .send()
        .await;
    let issue = first_issue(&too_long);
    assert_eq!(issue["type"], "string_too_long");
    assert_eq!(issue["loc"], json!(["body", "public_key"]));
    let missing = post(&app, "/api/v1/adoptions")
        .user("newcomer", "operator")
        .json(json!({}))
        .send()
        .await;
    assert_eq!(first_issue(&missing)["type"], "missing");
    let member = post(&app, "/api/v1/adoptions")
        .user("mem-south", "member")
        .json(json!({"public_key": CHARLIE}))
        .send()
        .await;
    assert_detail(
        &member,
        StatusCode::FORBIDDEN,
        "Operator or admin role required",
    );
    let anonymous = delete(&app, &format!("/api/v1/adoptions/{ALPHA}"))
        .send()
        .await;
    assert_detail(
        &anonymous,
        StatusCode::UNAUTHORIZED,
        "User identity required",
    );

    // A successful adoption creates the profile with its name and roles.
    let created = post(&app, "/api/v1/adoptions")
        .user("newcomer", "operator")
        .header("X-User-Name", "New")
        .json(json!({"public_key": CHARLIE}))
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED);
    assert_eq!(adopter(&app, CHARLIE).await["name"], "New");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profile_nodes WHERE length(adopted_at) = 26")
            .await,
        3
    );
}
