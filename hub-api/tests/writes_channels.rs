//! Channel writes (docs/contract/api-2.md sections 7.1-7.3) and the dashboard's channel flow (section 10).

use crate::common;
use crate::writes_support;

use common::*;
use hub_core::settings::AuthSettings;
use poem::http::StatusCode;
use serde_json::json;
use writes_support::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";

async fn channel_count(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM channels").await
}

#[tokio::test]
async fn create_trims_uppercases_and_hashes_the_key() {
    let app = fixture_app().await;
    let answer = post(&app, "/api/v1/channels")
        .json(json!({"name": "Mesh Ops", "key_hex": format!("  {KEY}  "), "ignored": 1}))
        .send()
        .await;
    assert_eq!(answer.0, StatusCode::CREATED, "{}", answer.2);
    let body = answer.2;
    assert_eq!(body["key_hex"], KEY.to_uppercase());
    assert_eq!(body["channel_hash"], "22");
    assert_eq!(body["masked_key"], "0123...CDEF");
    assert_eq!(body["visibility"], "community");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["created_at"], body["updated_at"]);
    let stored = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM channels WHERE id = '{}' AND key_hex = '{}' \
             AND length(created_at) = 26 AND created_at = updated_at",
            body["id"].as_str().unwrap(),
            KEY.to_uppercase()
        ))
        .await;
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn create_conflicts() {
    let app = fixture_app().await;
    let seeded = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let dup_name = post(&app, "/api/v1/channels")
        .json(json!({"name": "E2E General", "key_hex": KEY}))
        .send()
        .await;
    assert_detail(
        &dup_name,
        StatusCode::CONFLICT,
        "Channel 'E2E General' already exists",
    );
    // The seeded key is lowercase; the same key in uppercase is still a duplicate.
    let dup_key = post(&app, "/api/v1/channels")
        .json(json!({"name": "Other", "key_hex": seeded.to_uppercase(), "visibility": "admin"}))
        .send()
        .await;
    assert_detail(
        &dup_key,
        StatusCode::CONFLICT,
        "Key already in use by another channel",
    );
    // Names are case-sensitive.
    let other_case = post(&app, "/api/v1/channels")
        .json(json!({"name": "e2e general", "key_hex": KEY}))
        .send()
        .await;
    assert_eq!(other_case.0, StatusCode::CREATED);
    assert_eq!(channel_count(&app).await, 3);
}

#[tokio::test]
async fn create_validation_errors() {
    let app = fixture_app().await;
    let missing = post(&app, "/api/v1/channels")
        .json(json!({"name": "x"}))
        .send()
        .await;
    let issue = first_issue(&missing);
    assert_eq!(issue["type"], "missing");
    assert_eq!(issue["loc"], json!(["body", "key_hex"]));
    assert_eq!(issue["msg"], "Field required");
    assert_eq!(issue["input"], json!({"name": "x"}));

    let bad = post(&app, "/api/v1/channels")
        .json(json!({"name": "", "key_hex": "zz".repeat(16), "visibility": "public", "enabled": "maybe"}))
        .send()
        .await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = bad.2["detail"].as_array().unwrap();
    assert_eq!(detail.len(), 4, "{}", bad.2);
    assert_eq!(detail[0]["type"], "string_too_short");
    assert_eq!(detail[0]["msg"], "String should have at least 1 character");
    assert_eq!(detail[1]["type"], "value_error");
    assert_eq!(
        detail[1]["msg"],
        "Value error, key_hex must contain only hexadecimal characters"
    );
    assert_eq!(detail[1]["ctx"], json!({"error": {}}));
    assert_eq!(detail[2]["type"], "literal_error");
    assert_eq!(
        detail[2]["msg"],
        "Input should be 'community', 'member', 'operator' or 'admin'"
    );
    assert_eq!(detail[3]["type"], "bool_parsing");

    let short = post(&app, "/api/v1/channels")
        .json(json!({"name": "n", "key_hex": "ab"}))
        .send()
        .await;
    let issue = first_issue(&short);
    assert_eq!(issue["type"], "string_too_short");
    assert_eq!(issue["ctx"], json!({"min_length": 32}));
    let odd = post(&app, "/api/v1/channels")
        .json(json!({"name": "n", "key_hex": format!("{KEY}00")}))
        .send()
        .await;
    assert_eq!(
        first_issue(&odd)["msg"],
        "Value error, key_hex must be 32 or 64 hex characters"
    );
    let number = post(&app, "/api/v1/channels")
        .json(json!({"name": 5, "key_hex": KEY}))
        .send()
        .await;
    assert_eq!(first_issue(&number)["type"], "string_type");

    let broken = post(&app, "/api/v1/channels")
        .raw("{\"name\": ", Some("application/json"))
        .send()
        .await;
    let issue = first_issue(&broken);
    assert_eq!(issue["type"], "json_invalid");
    assert_eq!(issue["msg"], "JSON decode error");
    let text = post(&app, "/api/v1/channels")
        .raw("{}", Some("text/plain"))
        .send()
        .await;
    assert_eq!(first_issue(&text)["type"], "model_attributes_type");
    let empty = post(&app, "/api/v1/channels").send().await;
    assert_eq!(first_issue(&empty)["loc"], json!(["body"]));
    assert_eq!(channel_count(&app).await, 2);
}

#[tokio::test]
async fn admin_key_rules() {
    let app = fixture_app_with(AuthSettings {
        read_key: Some("reader".into()),
        admin_key: Some("boss".into()),
    })
    .await;
    let body = json!({"name": "k", "key_hex": KEY});
    let none = post(&app, "/api/v1/channels")
        .json(body.clone())
        .send()
        .await;
    assert_detail(&none, StatusCode::UNAUTHORIZED, "Authentication required");
    for token in ["reader", "wrong"] {
        let answer = post(&app, "/api/v1/channels")
            .header("Authorization", &format!("Bearer {token}"))
            .json(body.clone())
            .send()
            .await;
        assert_detail(&answer, StatusCode::FORBIDDEN, "Admin access required");
    }
    // Auth runs before body validation.
    let broken = put(&app, "/api/v1/channels/nope")
        .raw("{", None)
        .send()
        .await;
    assert_eq!(broken.0, StatusCode::UNAUTHORIZED);
    let ok = post(&app, "/api/v1/channels")
        .header("Authorization", "Bearer boss")
        .json(body)
        .send()
        .await;
    assert_eq!(ok.0, StatusCode::CREATED);
    // Reads still follow the read-key rules.
    assert_eq!(
        app.get("/api/v1/channels").await.0.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn update_and_delete() {
    let app = fixture_app().await;
    let id = "55201e37-066c-4859-ad6a-235660836869";
    let uri = format!("/api/v1/channels/{id}");
    // Validation comes before the 404.
    let invalid_missing = put(&app, "/api/v1/channels/nope")
        .json(json!({"key_hex": "xyz"}))
        .send()
        .await;
    assert_eq!(invalid_missing.0, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = put(&app, "/api/v1/channels/nope")
        .json(json!({}))
        .send()
        .await;
    assert_detail(&missing, StatusCode::NOT_FOUND, "Channel not found");

    // Repeating the current values (and null, and an ignored name) changes nothing.
    let same = put(&app, &uri)
        .json(json!({"visibility": "community", "enabled": true, "key_hex": null, "name": "New"}))
        .send()
        .await;
    assert_eq!(same.0, StatusCode::OK);
    assert_eq!(same.2["name"], "E2E General");
    assert_eq!(same.2["updated_at"], "2026-11-26T05:21:40.017375Z");

    let clash = put(&app, &uri)
        .json(
            json!({"key_hex": "FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100"}),
        )
        .send()
        .await;
    assert_detail(
        &clash,
        StatusCode::CONFLICT,
        "Key already in use by another channel",
    );

    let changed = put(&app, &uri)
        .json(json!({"visibility": "admin", "enabled": 0, "key_hex": KEY}))
        .send()
        .await;
    assert_eq!(changed.0, StatusCode::OK, "{}", changed.2);
    assert_eq!(changed.2["visibility"], "admin");
    assert_eq!(changed.2["enabled"], false);
    assert_eq!(changed.2["channel_hash"], "22");
    assert_ne!(changed.2["updated_at"], "2026-11-26T05:21:40.017375Z");

    let gone = delete(&app, &uri).send().await;
    assert_eq!(gone.0, StatusCode::NO_CONTENT);
    assert_eq!(gone.1, None, "204 has no content type");
    assert_eq!(gone.2, serde_json::Value::Null);
    let again = delete(&app, &uri).send().await;
    assert_detail(&again, StatusCode::NOT_FOUND, "Channel not found");
    assert_eq!(channel_count(&app).await, 1);
}

fn admin(w: Write<'_>) -> Write<'_> {
    w.user("pw-admin", "admin,member")
}

/// The dashboard's Channels page as an admin: create, edit visibility, delete, with the list
/// read after each step.
#[tokio::test]
async fn dashboard_channel_flow() {
    let app = fixture_app().await;
    let created = admin(post(&app, "/api/v1/channels"))
        .json(json!({"visibility": "member", "enabled": true, "name": "Members", "key_hex": KEY.to_uppercase()}))
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED);
    let id = created.2["id"].as_str().unwrap().to_string();
    let names = |body: &serde_json::Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&app.json_as("/api/v1/channels", "member").await).contains(&"Members".into()));
    assert!(!names(&app.json("/api/v1/channels").await).contains(&"Members".into()));

    let edited = admin(put(&app, &format!("/api/v1/channels/{id}")))
        .json(json!({"visibility": "community", "enabled": false}))
        .send()
        .await;
    assert_eq!(edited.0, StatusCode::OK);
    let anon = app.json("/api/v1/channels").await;
    let row = anon["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .expect("now visible to everyone");
    assert_eq!(row["enabled"], false);

    let deleted = admin(delete(&app, &format!("/api/v1/channels/{id}")))
        .send()
        .await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT);
    assert_eq!(app.json_as("/api/v1/channels", "admin").await["total"], 2);
}
