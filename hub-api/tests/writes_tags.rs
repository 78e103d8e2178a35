//! Node tag writes (docs/contract/api-2.md sections 7.4-7.6) and the dashboard's tag flow (section 10).

use crate::common;
use crate::writes_support;

use common::*;
use poem::http::StatusCode;
use serde_json::{Value, json};
use writes_support::*;

/// Adopted by op-north in the fixture.
const ALPHA: &str = "a1fa000000000000000000000000000000000000000000000000000000000000";
/// Adopted by mem-south.
const BRAVO: &str = "b2b0000000000000000000000000000000000000000000000000000000000000";

fn tags_uri(pk: &str) -> String {
    format!("/api/v1/nodes/{pk}/tags")
}

fn operator(w: Write<'_>) -> Write<'_> {
    w.user("op-north", "operator")
}

fn admin(w: Write<'_>) -> Write<'_> {
    w.user("pw-admin", "admin")
}

async fn tag(app: &TestApp, pk: &str, key: &str) -> Option<Value> {
    let tags = app.json(&tags_uri(pk)).await;
    tags.as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .cloned()
}

#[tokio::test]
async fn auth_and_access_checks() {
    let app = fixture_app().await;
    let body = json!({"key": "k", "value": "v"});
    let anonymous = post(&app, &tags_uri(ALPHA)).json(body.clone()).send().await;
    assert_detail(
        &anonymous,
        StatusCode::UNAUTHORIZED,
        "User identity required",
    );
    // Identity comes before body validation.
    let broken = post(&app, &tags_uri(ALPHA)).raw("{", None).send().await;
    assert_eq!(broken.0, StatusCode::UNAUTHORIZED);
    let member = post(&app, &tags_uri(ALPHA))
        .user("mem-south", "member")
        .json(body.clone())
        .send()
        .await;
    assert_detail(
        &member,
        StatusCode::FORBIDDEN,
        "Operator or admin role required",
    );
    let not_adopted = operator(post(&app, &tags_uri(BRAVO)))
        .json(body.clone())
        .send()
        .await;
    assert_detail(
        &not_adopted,
        StatusCode::FORBIDDEN,
        "You can only edit tags on nodes you have adopted",
    );
    let no_profile = post(&app, &tags_uri(ALPHA))
        .user("stranger", "operator")
        .json(body.clone())
        .send()
        .await;
    assert_eq!(no_profile.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles WHERE user_id = 'stranger'")
            .await,
        0
    );
    let unknown = admin(post(&app, &tags_uri(&pk("ff"))))
        .json(body.clone())
        .send()
        .await;
    assert_detail(&unknown, StatusCode::NOT_FOUND, "Node not found");
    let admin_any = admin(post(&app, &tags_uri(BRAVO))).json(body).send().await;
    assert_eq!(admin_any.0, StatusCode::CREATED);
}

#[tokio::test]
async fn create_rules() {
    let app = fixture_app().await;
    let created = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "height", "value": " 1_000 ", "value_type": "number"}))
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);
    let keys: Vec<&str> = created
        .2
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["key", "value", "value_type", "created_at", "updated_at"]
    );
    assert_eq!(created.2["value"], " 1_000 ");
    let again = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "height"}))
        .send()
        .await;
    assert_detail(&again, StatusCode::CONFLICT, "Tag already exists");
    let boolean = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "solar", "value": " YES ", "value_type": "boolean"}))
        .send()
        .await;
    assert_eq!(boolean.2["value"], "true");
    let empty = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "blank", "value": "", "value_type": "number"}))
        .send()
        .await;
    assert_eq!(empty.2["value"], "");
    let null = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "nothing"}))
        .send()
        .await;
    assert_eq!(null.2["value"], Value::Null);
    assert_eq!(null.2["value_type"], "string");

    let bad_number = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "n", "value": "0x10", "value_type": "number"}))
        .send()
        .await;
    assert_detail(
        &bad_number,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid number value: '0x10'. Must be a valid number.",
    );
    let bad_bool = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "b", "value": "maybe", "value_type": "boolean"}))
        .send()
        .await;
    assert_detail(
        &bad_bool,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid boolean value: 'maybe'. Expected: true, false, yes, no, 1, or 0.",
    );
    let number_value = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "x", "value": 5, "value_type": "text"}))
        .send()
        .await;
    let detail = number_value.2["detail"].as_array().unwrap();
    assert_eq!(detail[0]["type"], "string_type");
    assert_eq!(detail[0]["loc"], json!(["body", "value"]));
    assert_eq!(
        detail[1]["msg"],
        "Input should be 'string', 'number' or 'boolean'"
    );
    let long_key = operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "k".repeat(101)}))
        .send()
        .await;
    assert_eq!(first_issue(&long_key)["type"], "string_too_long");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM node_tags WHERE key IN ('n', 'b', 'x')")
            .await,
        0
    );
}

#[tokio::test]
async fn update_rules() {
    let app = fixture_app().await;
    let uri = format!("{}/height", tags_uri(ALPHA));
    let missing = operator(put(&app, &uri))
        .json(json!({"value": "1"}))
        .send()
        .await;
    assert_detail(&missing, StatusCode::NOT_FOUND, "Tag not found");
    operator(post(&app, &tags_uri(ALPHA)))
        .json(json!({"key": "height", "value": " 1_000 ", "value_type": "number"}))
        .send()
        .await;
    let before = tag(&app, ALPHA, "height").await.unwrap();
    // The stored value does not fit the new type.
    let wrong_type = operator(put(&app, &uri))
        .json(json!({"value_type": "boolean"}))
        .send()
        .await;
    assert_detail(
        &wrong_type,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid boolean value: ' 1_000 '. Expected: true, false, yes, no, 1, or 0.",
    );
    let same = operator(put(&app, &uri))
        .json(json!({"value": null}))
        .send()
        .await;
    assert_eq!(same.0, StatusCode::OK);
    assert_eq!(same.2["updated_at"], before["updated_at"]);
    let to_bool = operator(put(&app, &uri))
        .json(json!({"value": "No", "value_type": "boolean"}))
        .send()
        .await;
    assert_eq!(to_bool.2["value"], "false");
    assert_eq!(to_bool.2["value_type"], "boolean");
    // A type-only change validates but keeps the stored text.
    operator(put(&app, &uri))
        .json(json!({"value": "YES", "value_type": "string"}))
        .send()
        .await;
    let type_only = operator(put(&app, &uri))
        .json(json!({"value_type": "boolean"}))
        .send()
        .await;
    assert_eq!(type_only.2["value"], "YES");
    assert_eq!(type_only.2["value_type"], "boolean");
}

/// The dashboard's tag editor: an operator on their adopted node, then an admin on another
/// node; the node detail is read after every step.
#[tokio::test]
async fn dashboard_tag_flow() {
    let app = fixture_app().await;
    for (who, pk) in [
        (operator as fn(Write<'_>) -> Write<'_>, ALPHA),
        (admin, BRAVO),
    ] {
        let added = who(post(&app, &tags_uri(pk)))
            .json(json!({"key": "site", "value": "Hill", "value_type": "string"}))
            .send()
            .await;
        assert_eq!(added.0, StatusCode::CREATED, "{}", added.2);
        let node = app.json(&format!("/api/v1/nodes/{pk}")).await;
        assert!(
            node["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["key"] == "site" && t["value"] == "Hill")
        );

        let edited = who(put(&app, &format!("{}/site", tags_uri(pk))))
            .json(json!({"value": "Valley", "value_type": "string"}))
            .send()
            .await;
        assert_eq!(edited.0, StatusCode::OK);
        assert_eq!(tag(&app, pk, "site").await.unwrap()["value"], "Valley");

        let deleted = who(delete(&app, &format!("{}/site", tags_uri(pk))))
            .send()
            .await;
        assert_eq!(deleted.0, StatusCode::NO_CONTENT);
        assert_eq!(deleted.1, None);
        assert!(tag(&app, pk, "site").await.is_none());
        let again = who(delete(&app, &format!("{}/site", tags_uri(pk))))
            .send()
            .await;
        assert_detail(&again, StatusCode::NOT_FOUND, "Tag not found");
    }
}
