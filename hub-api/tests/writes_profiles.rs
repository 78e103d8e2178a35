//! Profile edits (docs/contract/api-2.md section 7.9) and the dashboard's profile page flows (section 10).

use crate::common;
use crate::writes_support;

use common::*;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use writes_support::*;

const MEMBER: &str = "a64055c2-8b50-40f1-a5ea-1a3e18b506cc";
const ADMIN: &str = "75f8459c-5144-4d7b-b325-f525e18ea243";

fn uri(id: &str) -> String {
    format!("/api/v1/user/profile/{id}")
}

async fn stored(app: &TestApp, column: &str) -> Option<String> {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!("SELECT {column} FROM user_profiles WHERE id = '{MEMBER}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<Option<String>>(0).unwrap()
}

#[tokio::test]
async fn owner_edits_with_the_dashboards_body() {
    let app = fixture_app().await;
    // The SPA sends all four keys, trimmed, with empty values as null.
    let edited = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"name": "  New Name ", "callsign": null, "description": "Hi", "url": "https://Example.com"}))
        .send()
        .await;
    assert_eq!(edited.0, StatusCode::OK, "{}", edited.2);
    let keys: Vec<&str> = edited
        .2
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
            "updated_at"
        ]
    );
    assert_eq!(edited.2["name"], "New Name");
    assert_eq!(edited.2["callsign"], Value::Null);
    assert_eq!(edited.2["description"], "Hi");
    assert_eq!(edited.2["url"], "https://example.com/");
    assert_eq!(edited.2["roles"], json!(["member"]));
    assert_ne!(edited.2["updated_at"], "2026-11-26T05:21:40.086147Z");
    // The profile page reads it back.
    let page = app.json(&uri(MEMBER)).await;
    assert_eq!(page["name"], "New Name");
    assert_eq!(page["url"], "https://example.com/");

    // A null name is ignored; blanks are trimmed to empty.
    let kept = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"name": null}))
        .send()
        .await;
    assert_eq!(kept.2["name"], "New Name");
    let blank = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"name": "   "}))
        .send()
        .await;
    assert_eq!(blank.2["name"], "");
    // Unknown keys (roles, user_id) are ignored.
    let ignored = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"roles": "admin", "user_id": "x"}))
        .send()
        .await;
    assert_eq!(ignored.0, StatusCode::OK);
    assert_eq!(stored(&app, "roles").await.as_deref(), Some("member"));
    assert_eq!(stored(&app, "user_id").await.as_deref(), Some("pw-member"));
}

#[tokio::test]
async fn updated_at_moves_only_on_change() {
    let app = fixture_app().await;
    let same = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"name": "PW Member", "callsign": "E2EMBR"}))
        .send()
        .await;
    assert_eq!(same.0, StatusCode::OK, "{}", same.2);
    assert_eq!(same.2["updated_at"], "2026-11-26T05:21:40.086147Z");
    put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"callsign": "NEW1"}))
        .send()
        .await;
    let stamp = stored(&app, "updated_at").await.unwrap();
    assert_ne!(stamp, "2026-11-26 05:21:40.086147");
    assert_eq!(stamp.len(), 26, "{stamp}");
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_edit() {
    let app = fixture_app().await;
    let other = put(&app, &uri(MEMBER))
        .user("op-north", "operator,member")
        .json(json!({"callsign": "X"}))
        .send()
        .await;
    assert_detail(
        &other,
        StatusCode::FORBIDDEN,
        "Access denied: cannot modify another user's profile",
    );
    assert_eq!(stored(&app, "callsign").await.as_deref(), Some("E2EMBR"));
    let admin = put(&app, &uri(MEMBER))
        .user("pw-admin", "member, admin")
        .json(json!({"callsign": "ADM1"}))
        .send()
        .await;
    assert_eq!(admin.0, StatusCode::OK, "{}", admin.2);
    assert_eq!(admin.2["callsign"], "ADM1");
    let anonymous = put(&app, &uri(MEMBER))
        .json(json!({"callsign": "X"}))
        .send()
        .await;
    assert_detail(
        &anonymous,
        StatusCode::UNAUTHORIZED,
        "User identity required",
    );
    let missing = put(&app, &uri("no-such-profile"))
        .user("pw-admin", "admin")
        .json(json!({"callsign": "X"}))
        .send()
        .await;
    assert_detail(&missing, StatusCode::NOT_FOUND, "Profile not found");
    // Validation comes before the 404 (section 0.1).
    let invalid_missing = put(&app, &uri("no-such-profile"))
        .user("pw-admin", "admin")
        .json(json!({"callsign": "X".repeat(21)}))
        .send()
        .await;
    assert_eq!(invalid_missing.0, StatusCode::UNPROCESSABLE_ENTITY);
    // An admin's own profile, by the admin.
    let own = put(&app, &uri(ADMIN))
        .user("pw-admin", "admin")
        .json(json!({"url": null}))
        .send()
        .await;
    assert_eq!(own.2["url"], Value::Null);
}

#[tokio::test]
async fn bad_bodies_are_pydantic_422s() {
    let app = fixture_app().await;
    let send = |body: Value| {
        put(&app, &uri(MEMBER))
            .user("pw-member", "member")
            .json(body)
            .send()
    };
    let relative = send(json!({"url": "example.com"})).await;
    assert_eq!(relative.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        relative.2["detail"][0],
        json!({"type": "url_parsing", "loc": ["body", "url"],
               "msg": "Input should be a valid URL, relative URL without a base",
               "input": "example.com", "ctx": {"error": "relative URL without a base"}})
    );
    let long = format!("https://example.com/{}", "a".repeat(2100));
    let too_long = send(json!({"url": long})).await;
    assert_eq!(too_long.2["detail"][0]["type"], "too_long");
    assert_eq!(too_long.2["detail"][0]["ctx"]["max_length"], 2048);
    let name = send(json!({"name": ""})).await;
    assert_eq!(name.2["detail"][0]["type"], "string_too_short");
    let callsign = send(json!({"callsign": 5})).await;
    assert_eq!(callsign.2["detail"][0]["type"], "string_type");
    let description = send(json!({"description": "d".repeat(501)})).await;
    assert_eq!(description.2["detail"][0]["type"], "string_too_long");
    let mail = send(json!({"url": "mailto:a@b.c"})).await;
    assert_eq!(mail.2["url"], "mailto:a@b.c");
    let broken = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .raw("{\"name\": ", Some("application/json"))
        .send()
        .await;
    assert_eq!(broken.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(broken.2["detail"][0]["type"], "json_invalid");
    // Nothing above changed the row.
    assert_eq!(stored(&app, "name").await.as_deref(), Some("PW Member"));
}

#[tokio::test]
async fn an_edit_invalidates_profiles_and_nodes() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let list = "/api/v1/user/profiles";
    for _ in 0..2 {
        app.get(list).await.assert_status_is_ok();
    }
    assert_eq!(x_cache_of(&app.get(list).await), "HIT");
    let edited = put(&app, &uri(MEMBER))
        .user("pw-member", "member")
        .json(json!({"name": "Renamed Member"}))
        .send()
        .await;
    assert_eq!(edited.0, StatusCode::OK);
    let after = app.get(list).await;
    assert_eq!(x_cache_of(&after), "MISS");
    let body: Value = after.json().await.value().deserialize();
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Renamed Member")
    );
}

/// `GET /user/profile/{id}` as `user` with `X-User-Roles: roles`.
async fn profile_as(app: &TestApp, id: &str, user: &str, roles: &str) -> Value {
    let answer = get(app, &uri(id)).user(user, roles).send().await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    answer.2
}

#[tokio::test]
async fn the_owner_gets_the_owner_view_with_synced_roles_and_nobody_else_does() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let list = "/api/v1/user/profiles";
    let roles_in_list = |body: &Value| -> Value {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == ADMIN)
            .map(|p| p["roles"].clone())
            .unwrap()
    };
    for _ in 0..2 {
        app.get(list).await.assert_status_is_ok();
    }
    assert_eq!(x_cache_of(&app.get(list).await), "HIT");

    // The owner (pw-admin) now holds only `admin`: the owner view, roles synced and stored.
    let own = profile_as(&app, ADMIN, "pw-admin", "admin").await;
    assert_eq!(own["user_id"], "pw-admin");
    assert_eq!(own["roles"], json!(["admin"]));
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM user_profiles WHERE id = '{ADMIN}' AND roles = 'admin'"
        ))
        .await,
        1
    );
    // The sync reaches the cached profile list at once.
    let after = app.get(list).await;
    assert_eq!(x_cache_of(&after), "MISS");
    assert_eq!(
        roles_in_list(&after.json().await.value().deserialize()),
        json!(["admin"])
    );

    // Another user, an admin, and an anonymous caller get the public view and write nothing.
    for (user, roles) in [("pw-member", "member"), ("someone", "admin")] {
        let public = profile_as(&app, ADMIN, user, roles).await;
        assert!(public.get("user_id").is_none(), "{public}");
        assert_eq!(public["roles"], json!(["admin"]));
    }
    let anonymous = app.json(&uri(ADMIN)).await;
    assert!(anonymous.get("user_id").is_none(), "{anonymous}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM user_profiles WHERE user_id IN ('someone')")
            .await,
        0
    );
    // The owner asking for someone else's profile sees its public view.
    let other = profile_as(&app, MEMBER, "pw-admin", "admin").await;
    assert!(other.get("user_id").is_none(), "{other}");
}
