//! Response caching end to end: the real app, a real SQLite file and a real redis-server
//! that each test starts on a free loopback port (CACHING.md section 9).

mod common;

use common::*;
use hub_core::cache::runtime::ResponseCache;
use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;
use poem::test::TestResponse;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Per-call Redis bound in these tests.
const TIMEOUT: Duration = Duration::from_millis(100);
/// Request time allowed on top of one Redis timeout: the handler itself and a loaded CI box.
const SLACK: Duration = Duration::from_millis(400);

/// Every cached operation, with the roles header to send (role-sensitive ones vary by it).
const CACHED: &[&str] = &[
    "/api/v1/nodes?limit=5",
    "/api/v1/advertisements",
    "/api/v1/messages",
    "/api/v1/channels",
    "/api/v1/user/profiles",
    "/api/v1/dashboard/stats",
    "/api/v1/dashboard/recent-activity",
    "/api/v1/dashboard/activity?days=7",
    "/api/v1/dashboard/packet-activity",
    "/api/v1/dashboard/message-activity",
    "/api/v1/dashboard/node-count",
    "/api/v1/dashboard/packet-breakdown",
    "/api/v1/dashboard/routes-overview",
];

fn redis_cache(port: u16, prefix: &str, ttl: Duration) -> ResponseCache {
    let options = RedisOptions {
        prefix: prefix.into(),
        timeout: TIMEOUT,
        breaker_open_for: Duration::from_millis(300),
        ..RedisOptions::local(port)
    };
    let backend: Arc<dyn CacheBackend> = Arc::new(RedisCache::new(options).expect("redis options"));
    ResponseCache::new(backend, ttl, ttl)
}

fn x_cache(resp: &TestResponse) -> String {
    resp.0
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| "<none>".into())
}

/// GET as `roles` (empty: anonymous); returns (X-Cache, body bytes), asserting 200.
async fn fetch(app: &TestApp, uri: &str, roles: &str) -> (String, Vec<u8>) {
    let mut request = app.client.get(uri);
    if !roles.is_empty() {
        request = request.header("X-User-Roles", roles);
    }
    let resp = request.send().await;
    resp.assert_status_is_ok();
    let cache = x_cache(&resp);
    (cache, resp.0.into_body().into_vec().await.unwrap())
}

/// [`fetch`], asserting the request took no longer than one Redis timeout plus slack.
async fn fetch_bounded(app: &TestApp, uri: &str) -> String {
    let start = Instant::now();
    let (cache, _) = fetch(app, uri, "").await;
    let took = start.elapsed();
    assert!(
        took <= TIMEOUT + SLACK,
        "{uri} took {took:?} while Redis was down"
    );
    cache
}

/// Requests `uri` until it is a HIT (caching resumed), failing after `within`.
async fn wait_for_hit(app: &TestApp, uri: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if fetch(app, uri, "").await.0 == "HIT" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "caching did not resume for {uri}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_cached_endpoint_misses_then_hits_with_identical_bytes() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    for uri in CACHED {
        let (first, miss_body) = fetch(&app, uri, "admin").await;
        let (second, hit_body) = fetch(&app, uri, "admin").await;
        assert_eq!((first.as_str(), second.as_str()), ("MISS", "HIT"), "{uri}");
        assert_eq!(
            miss_body, hit_body,
            "{uri}: HIT body differs from MISS body"
        );
        assert!(!hit_body.is_empty(), "{uri}");
    }
}

#[tokio::test]
async fn uncached_operations_have_no_x_cache_header() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let resp = app.get(&format!("/api/v1/nodes/{}", pk("a1fa"))).await;
    resp.assert_status_is_ok();
    assert_eq!(x_cache(&resp), "<none>");
    assert_eq!(x_cache(&app.get("/health").await), "<none>");
}

#[tokio::test]
async fn an_admin_response_is_never_served_to_anonymous() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    // An admin-only channel (hash 0xAD) with one message on it.
    app.exec(&format!(
        "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) \
         VALUES ('c-admin', 'Admins', 'ad00', 'AD', 'admin', 1, '{t}', '{t}'); \
         INSERT INTO messages (id, message_type, channel_idx, text, received_at, created_at, updated_at) \
         VALUES ('m-secret', 'channel', 173, 'admin eyes only', '{t}', '{t}', '{t}')",
        t = ago(0, 1)
    ))
    .await;
    for uri in [
        "/api/v1/messages",
        "/api/v1/channels",
        "/api/v1/dashboard/stats",
        "/api/v1/dashboard/recent-activity",
    ] {
        let (first, admin_body) = fetch(&app, uri, "admin").await;
        assert_eq!(first, "MISS", "{uri}");
        assert_eq!(fetch(&app, uri, "admin").await.0, "HIT", "{uri}");
        for roles in ["administrator", "member", "operator"] {
            let (cache, body) = fetch(&app, uri, roles).await;
            assert_eq!(
                cache, "MISS",
                "{uri} as {roles:?} was served another role's entry"
            );
            assert_ne!(body, admin_body, "{uri} as {roles:?}");
        }
        // "administrator" is not a role name, so it shared the anonymous entry.
        let (cache, body) = fetch(&app, uri, "").await;
        assert_eq!(cache, "HIT", "{uri}");
        assert_ne!(
            body, admin_body,
            "{uri} served the admin entry to anonymous"
        );
    }
    let (_, anonymous) = fetch(&app, "/api/v1/messages", "").await;
    assert!(
        !String::from_utf8(anonymous)
            .unwrap()
            .contains("admin eyes only")
    );
}

#[tokio::test]
async fn keys_follow_declared_parameters_canonically() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let (a, b) = (pk("aa01"), pk("bb01"));
    let both = format!("/api/v1/advertisements?observed_by={a}&observed_by={b}");
    assert_eq!(fetch(&app, &both, "").await.0, "MISS");
    // The same pairs in another order are the same key.
    let swapped = format!("/api/v1/advertisements?observed_by={b}&observed_by={a}");
    assert_eq!(fetch(&app, &swapped, "").await.0, "HIT");
    // One of the repeated values is a different request.
    assert_eq!(
        fetch(&app, &format!("/api/v1/advertisements?observed_by={b}"), "")
            .await
            .0,
        "MISS"
    );
    // Undeclared parameters (cache-busters) do not split the cache; declared ones do.
    assert_eq!(
        fetch(&app, "/api/v1/nodes?limit=3&sort=name", "").await.0,
        "MISS"
    );
    assert_eq!(
        fetch(&app, "/api/v1/nodes?sort=name&utm_source=x&limit=3", "")
            .await
            .0,
        "HIT"
    );
    assert_eq!(
        fetch(&app, "/api/v1/nodes?sort=name&limit=4", "").await.0,
        "MISS"
    );
    // Errors are never stored.
    app.get("/api/v1/nodes?limit=0")
        .await
        .assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
    let again = app.get("/api/v1/nodes?limit=0").await;
    again.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(1))).await;
    assert_eq!(fetch(&app, "/api/v1/channels", "").await.0, "MISS");
    assert_eq!(fetch(&app, "/api/v1/channels", "").await.0, "HIT");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(fetch(&app, "/api/v1/channels", "").await.0, "MISS");
}

#[tokio::test]
async fn prefixes_isolate_two_apps_sharing_one_redis() {
    let redis = RedisServer::start();
    let one = fixture_app_cached(redis_cache(redis.port(), "one", Duration::from_secs(30))).await;
    let two = fixture_app_cached(redis_cache(redis.port(), "two", Duration::from_secs(30))).await;
    assert_eq!(fetch(&one, "/api/v1/user/profiles", "").await.0, "MISS");
    assert_eq!(fetch(&one, "/api/v1/user/profiles", "").await.0, "HIT");
    assert_eq!(fetch(&two, "/api/v1/user/profiles", "").await.0, "MISS");
    assert_eq!(fetch(&two, "/api/v1/user/profiles", "").await.0, "HIT");
}

#[tokio::test]
async fn redis_killed_mid_test_never_fails_or_stalls_a_request() {
    let mut redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let uri = "/api/v1/dashboard/stats";
    fetch(&app, uri, "").await;
    assert_eq!(fetch(&app, uri, "").await.0, "HIT");
    redis.kill();
    for _ in 0..10 {
        assert_eq!(fetch_bounded(&app, uri).await, "MISS");
    }
    redis.restart();
    wait_for_hit(&app, uri, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn redis_paused_never_stalls_a_request() {
    let mut redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let uri = "/api/v1/nodes?limit=5";
    fetch(&app, uri, "").await;
    assert_eq!(fetch(&app, uri, "").await.0, "HIT");
    redis.pause();
    for _ in 0..10 {
        assert_eq!(fetch_bounded(&app, uri).await, "MISS");
    }
    redis.resume();
    wait_for_hit(&app, uri, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn redis_absent_at_startup_then_caching_starts_when_it_arrives() {
    let mut redis = RedisServer::start();
    redis.kill();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let uri = "/api/v1/channels";
    for _ in 0..5 {
        assert_eq!(fetch_bounded(&app, uri).await, "MISS");
    }
    let ready: serde_json::Value = app.json("/health/ready").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["redis"], "unreachable");
    redis.restart();
    fetch(&app, uri, "").await;
    wait_for_hit(&app, uri, Duration::from_secs(5)).await;
    let ready: serde_json::Value = app.json("/health/ready").await;
    assert_eq!(ready["redis"], "connected");
}

#[tokio::test]
async fn without_redis_every_response_is_a_miss() {
    let app = fixture_app().await;
    for _ in 0..2 {
        assert_eq!(fetch(&app, "/api/v1/nodes", "").await.0, "MISS");
    }
    let ready: serde_json::Value = app.json("/health/ready").await;
    assert!(ready.get("redis").is_none(), "{ready}");
}

#[tokio::test]
async fn the_openapi_document_keeps_typed_schemas_and_documents_x_cache() {
    let app = fixture_app().await;
    let spec = app.json("/api/openapi.json").await;
    let ok = &spec["paths"]["/api/v1/nodes"]["get"]["responses"]["200"];
    assert!(
        ok["headers"]["X-Cache"].is_object() || ok["headers"]["x-cache"].is_object(),
        "{ok}"
    );
    let schema = ok["content"]["application/json; charset=utf-8"]["schema"]["$ref"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(schema.ends_with("Page_NodeRead"), "{ok}");
}
