//! The identity headers (`X-User-Id`, `X-User-Name`, `X-User-Roles`) count only beside the
//! most privileged key configured, or from anyone when no key is (docs/configuration.md
//! #identity-headers).

use crate::common;

use common::*;
use hub_core::settings::AuthSettings;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use serde_json::Value;

const ME: &str = "/api/v1/user/profile/me";

fn keys(read: Option<&str>, admin: Option<&str>) -> AuthSettings {
    AuthSettings {
        read_key: read.map(str::to_string),
        admin_key: admin.map(str::to_string),
    }
}

/// `GET /user/profile/me` as user `u1`, with `token` as bearer when given: its status.
async fn me_status(app: &TestApp, token: Option<&str>) -> StatusCode {
    let mut request = app
        .client
        .get(ME)
        .header("X-User-Id", "u1")
        .header("X-User-Name", "Mallory")
        .header("X-User-Roles", "admin");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    request.send().await.0.status()
}

#[tokio::test]
async fn with_both_keys_only_the_admin_key_carries_an_identity() {
    let app = fixture_app_with(keys(Some("reader"), Some("boss"))).await;
    assert_eq!(me_status(&app, Some("boss")).await, StatusCode::OK);
    // The read key (and no key, on this keyless path) make the caller anonymous.
    assert_eq!(
        me_status(&app, Some("reader")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, None).await, StatusCode::UNAUTHORIZED);
    let resp = app
        .client
        .get(ME)
        .header("X-User-Id", "u1")
        .header("Authorization", "Bearer reader")
        .send()
        .await;
    resp.assert_json(serde_json::json!({"detail": "User identity required"}))
        .await;
}

#[tokio::test]
async fn with_only_a_read_key_the_read_key_carries_an_identity() {
    let app = fixture_app_with(keys(Some("reader"), None)).await;
    assert_eq!(me_status(&app, Some("reader")).await, StatusCode::OK);
    assert_eq!(me_status(&app, None).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn with_only_an_admin_key_the_admin_key_carries_an_identity() {
    let app = fixture_app_with(keys(None, Some("boss"))).await;
    assert_eq!(me_status(&app, Some("boss")).await, StatusCode::OK);
    assert_eq!(me_status(&app, None).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_keys_the_identity_headers_are_trusted_from_anyone() {
    let app = fixture_app().await;
    assert_eq!(me_status(&app, None).await, StatusCode::OK);
}

/// `GET /messages` as `roles` with `token`: its `total` and `X-Cache`.
async fn messages_as(app: &TestApp, roles: &str, token: &str) -> (i64, String) {
    let resp = app
        .client
        .get("/api/v1/messages")
        .header("X-User-Roles", roles)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await;
    resp.assert_status_is_ok();
    let x_cache = resp.0.headers()["x-cache"].to_str().unwrap().to_string();
    let body: Value = resp.json().await.value().deserialize();
    (body["total"].as_i64().unwrap(), x_cache)
}

#[tokio::test]
async fn role_keyed_cached_responses_follow_the_effective_role() {
    let redis = RedisServer::start();
    let cache = redis_response_cache(redis.port());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    std::fs::copy(fixture_db_path(), &path).unwrap();
    let app = app_with_cache(dir, path, keys(Some("reader"), Some("boss")), cache).await;
    // Channel 71's messages become admin-only: admins see more than anyone else.
    app.exec("UPDATE channels SET visibility = 'admin' WHERE channel_hash = '47'")
        .await;

    let (admin_total, first) = messages_as(&app, "admin", "boss").await;
    assert_eq!(first, "MISS");
    let (anonymous_total, _) = messages_as(&app, "", "reader").await;
    assert!(
        admin_total > anonymous_total,
        "{admin_total} vs {anonymous_total}"
    );
    // A read-key caller claiming admin is anonymous: it gets the anonymous entry, never the
    // admin one that is cached too.
    let (claimed, x_cache) = messages_as(&app, "admin", "reader").await;
    assert_eq!(claimed, anonymous_total);
    assert_eq!(x_cache, "HIT");
    let (again, x_cache) = messages_as(&app, "admin", "boss").await;
    assert_eq!((again, x_cache.as_str()), (admin_total, "HIT"));
}
