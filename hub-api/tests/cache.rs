//! Response caching end to end: the real app, a real SQLite file and a real redis-server
//! that each test starts on a free loopback port (docs/contract/cache-design.md section 9).

use crate::common;

use common::*;
use hub_core::cache::observer::{CacheObserver, Lookup};
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
    for uri in CACHED_ENDPOINTS {
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
    assert_eq!(fetch(&app, &both, "").await.0, "HIT");
    // `observed_by` is a set (`Query<BTreeSet<_>>`): order and repeats do not reach the
    // handler, so they do not split the cache, on every endpoint that takes it.
    for list in ["advertisements", "messages", "packets"] {
        let both = format!("/api/v1/{list}?observed_by={a}&observed_by={b}");
        let swapped = format!("/api/v1/{list}?observed_by={b}&observed_by={a}&observed_by={b}");
        if list != "advertisements" {
            assert_eq!(fetch(&app, &both, "").await.0, "MISS", "{list}");
        }
        assert_eq!(fetch(&app, &swapped, "").await.0, "HIT", "{list}");
    }
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
}

/// Item count of a `{"items": [...]}` list body.
fn items(body: &[u8]) -> usize {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    json["items"].as_array().expect("items").len()
}

#[tokio::test]
async fn a_repeated_single_valued_parameter_is_keyed_by_the_value_the_handler_reads() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    // poem-openapi hands a single-valued parameter its first occurrence only.
    let (first, one) = fetch(&app, "/api/v1/nodes?limit=1&limit=2", "").await;
    assert_eq!((first.as_str(), items(&one)), ("MISS", 1));
    // The same values the other way round are another request: the handler reads `limit=2`.
    let (cache, two) = fetch(&app, "/api/v1/nodes?limit=2&limit=1", "").await;
    assert_eq!(items(&two), 2, "served the entry of limit=1 for limit=2");
    assert_eq!(cache, "MISS");
    // Repeats after the first occurrence do not split the cache.
    assert_eq!(fetch(&app, "/api/v1/nodes?limit=2", "").await.0, "HIT");
    assert_eq!(
        fetch(&app, "/api/v1/nodes?limit=1&limit=7", "").await.0,
        "HIT"
    );
}

/// Every cache event, as `event:name` (`lookup-miss:messages`, `stored:messages`, ...).
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<String>>);

impl Events {
    fn of(&self, name: &str) -> Vec<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|e| e.ends_with(&format!(":{name}")))
            .cloned()
            .collect()
    }
}

impl CacheObserver for Events {
    fn lookup(&self, name: &'static str, outcome: Lookup) {
        let event = format!("lookup-{}:{name}", outcome.as_str());
        self.0.lock().unwrap().push(event);
    }
    fn stored(&self, name: &'static str) {
        self.0.lock().unwrap().push(format!("stored:{name}"));
    }
}

#[tokio::test]
async fn errors_the_handler_returns_after_the_lookup_are_never_stored() {
    let redis = RedisServer::start();
    let events = Arc::new(Events::default());
    let cache =
        redis_cache(redis.port(), "hub", Duration::from_secs(30)).with_observer(events.clone());
    let app = fixture_app_cached(cache).await;
    // `since` is declared as a string and parsed by the handler itself, so this 422 comes
    // from inside the cached operation, after the cache was consulted.
    let uri = "/api/v1/messages?since=not-a-date";
    for _ in 0..2 {
        let resp = app.get(uri).await;
        resp.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            x_cache(&resp),
            "<none>",
            "an error carries no cache headers"
        );
    }
    // Writes are spawned: give one the time to land before checking that none was made.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        events.of("messages"),
        ["lookup-miss:messages", "lookup-miss:messages"],
        "both requests reached the cache, and neither stored its error"
    );
    // A valid request on the same operation is stored, so the check above could fail.
    assert_eq!(fetch(&app, "/api/v1/messages", "").await.0, "MISS");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        events
            .of("messages")
            .contains(&"stored:messages".to_string())
    );
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

fn header(resp: &TestResponse, name: &str) -> String {
    resp.0
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| "<none>".into())
}

/// GET `uri` with `If-None-Match: inm`.
async fn get_if(app: &TestApp, uri: &str, inm: &str) -> TestResponse {
    app.client
        .get(uri)
        .header("If-None-Match", inm)
        .send()
        .await
}

#[tokio::test]
async fn etag_is_equal_on_miss_and_hit_and_changes_with_content() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(1))).await;
    let uri = "/api/v1/nodes?limit=100";
    let miss = app.get(uri).await;
    let miss_tag = header(&miss, "etag");
    assert_eq!(x_cache(&miss), "MISS");
    let miss_body = miss.0.into_body().into_vec().await.unwrap();
    assert_eq!(miss_tag, hub_core::cache::envelope::etag_for(&miss_body));
    let hit = app.get(uri).await;
    assert_eq!(x_cache(&hit), "HIT");
    assert_eq!(header(&hit, "etag"), miss_tag);

    // New content: after the TTL the entry is recomputed and the ETag follows the bytes.
    insert_node(&app, "n-etag", &pk("e7a9"), Some("Etag Node"), None).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let fresh = app.get(uri).await;
    assert_eq!(x_cache(&fresh), "MISS");
    assert_ne!(header(&fresh, "etag"), miss_tag);
    get_if(&app, uri, &miss_tag).await.assert_status_is_ok();

    // Without Redis: the same content has the same ETag, and it changes with the content.
    let plain = fixture_app().await;
    let a = header(&plain.get("/api/v1/channels").await, "etag");
    assert_eq!(header(&plain.get("/api/v1/channels").await, "etag"), a);
    assert!(a.starts_with('"') && a.len() == 34, "{a}");
    plain
        .exec(&format!(
            "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) \
             VALUES ('c-etag', 'Etag', 'e700', 'E7', 'public', 1, '{t}', '{t}')",
            t = ago(0, 1)
        ))
        .await;
    assert_ne!(header(&plain.get("/api/v1/channels").await, "etag"), a);
}

#[tokio::test]
async fn if_none_match_answers_304_with_headers_and_no_body() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let uri = "/api/v1/dashboard/stats";
    let tag = header(&app.get(uri).await, "etag");
    let weak = format!("W/{tag}");
    let list = format!("\"x\", {weak}");
    for inm in [tag.as_str(), "*", list.as_str(), weak.as_str()] {
        let resp = get_if(&app, uri, inm).await;
        resp.assert_status(poem::http::StatusCode::NOT_MODIFIED);
        assert_eq!(header(&resp, "etag"), tag, "{inm}");
        assert_eq!(x_cache(&resp), "HIT", "{inm}");
        assert!(header(&resp, "cache-status").starts_with("hub; hit; ttl="));
        assert_eq!(header(&resp, "cache-control"), "private, no-cache", "{inm}");
        assert!(
            resp.0.into_body().into_vec().await.unwrap().is_empty(),
            "{inm}"
        );
    }
    let resp = get_if(&app, uri, "\"0000\", W/\"1111\"").await;
    resp.assert_status_is_ok();
    assert_eq!(header(&resp, "etag"), tag);
}

#[tokio::test]
async fn cache_control_on_reads_errors_health_and_writes() {
    let app = fixture_app().await;
    for uri in [
        "/api/v1/nodes",
        &format!("/api/v1/nodes/{}", pk("a1fa")),
        "/api/openapi.json",
    ] {
        let resp = app.get(uri).await;
        resp.assert_status_is_ok();
        assert_eq!(header(&resp, "cache-control"), "private, no-cache", "{uri}");
    }
    // Errors: 422 and 404 get it too, without an ETag or Cache-Status.
    let invalid = app.get("/api/v1/nodes?limit=0").await;
    invalid.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app.get(&format!("/api/v1/nodes/{}", pk("dead"))).await;
    missing.assert_status(poem::http::StatusCode::NOT_FOUND);
    for resp in [&invalid, &missing] {
        assert_eq!(header(resp, "cache-control"), "private, no-cache");
        assert_eq!(header(resp, "etag"), "<none>");
        assert_eq!(header(resp, "cache-status"), "<none>");
    }
    for uri in ["/health", "/health/ready"] {
        assert_eq!(
            header(&app.get(uri).await, "cache-control"),
            "no-store",
            "{uri}"
        );
    }
    // Writes (here: a method the route does not allow) are never stored anywhere.
    let post = app.client.post("/api/v1/nodes").send().await;
    assert_eq!(header(&post, "cache-control"), "no-store");
}

#[tokio::test]
async fn cache_control_can_be_switched_off() {
    use hub_core::settings::HttpSettings;
    use poem::EndpointExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    std::fs::copy(fixture_db_path(), &path).expect("copy fixture");
    let state = default_state(open_sqlite(&path).await);
    let app = poem::test::TestClient::new(
        hub_api::app::build_with(state, HttpSettings::with_cache_control(false)).map_to_response(),
    );
    for uri in ["/api/v1/nodes", "/api/v1/nodes?limit=0", "/health"] {
        let resp = app.get(uri).send().await;
        assert_eq!(header(&resp, "cache-control"), "<none>", "{uri}");
    }
    // The other cache headers stay.
    let resp = app.get("/api/v1/nodes").send().await;
    assert_eq!(x_cache(&resp), "MISS");
    assert_ne!(header(&resp, "etag"), "<none>");
}

#[tokio::test]
async fn cache_status_tells_hit_miss_and_bypass() {
    let mut redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port(), "hub", Duration::from_secs(30))).await;
    let uri = "/api/v1/advertisements";
    assert_eq!(
        header(&app.get(uri).await, "cache-status"),
        "hub; fwd=miss; stored"
    );
    let hit = header(&app.get(uri).await, "cache-status");
    let ttl: u64 = hit
        .strip_prefix("hub; hit; ttl=")
        .unwrap_or_else(|| panic!("{hit}"))
        .parse()
        .unwrap();
    assert!((29..=30).contains(&ttl), "{hit}");
    redis.kill();
    assert_eq!(
        header(&app.get(uri).await, "cache-status"),
        "hub; fwd=bypass; detail=unavailable"
    );
    let disabled = fixture_app().await;
    assert_eq!(
        header(&disabled.get(uri).await, "cache-status"),
        "hub; fwd=bypass; detail=disabled"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_cache_headers_and_304_on_cached_operations() {
    let app = fixture_app().await;
    let spec = app.json("/api/openapi.json").await;
    for path in ["/api/v1/nodes", "/api/v1/dashboard/stats"] {
        let responses = &spec["paths"][path]["get"]["responses"];
        for status in ["200", "304"] {
            for name in ["X-Cache", "ETag", "Cache-Status", "Cache-Control"] {
                assert!(
                    responses[status]["headers"][name].is_object(),
                    "{path} {status} lacks {name}: {responses}"
                );
            }
        }
        assert!(responses["304"].get("content").is_none(), "{responses}");
    }
    // Uncached operations do not claim them.
    let single = &spec["paths"]["/api/v1/nodes/{public_key}"]["get"]["responses"];
    assert!(single["200"].is_object(), "{single}");
    assert!(single.get("304").is_none(), "{single}");
    assert!(single["200"]["headers"].get("ETag").is_none(), "{single}");
}

#[test]
fn cache_names_are_unique_across_every_api_the_app_mounts() {
    let names = hub_api::routes::cache_names();
    let mut seen = std::collections::BTreeSet::new();
    let repeated: Vec<&str> = names.iter().copied().filter(|n| !seen.insert(*n)).collect();
    assert!(repeated.is_empty(), "cache names used twice: {repeated:?}");
    // Every cached operation of the assembled app is in the list: those are the operations
    // whose 200 response documents `X-Cache`.
    let doc: serde_json::Value =
        serde_json::from_str(&hub_api::app::openapi().spec()).expect("OpenAPI JSON");
    let cached_operations = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter(|op| {
            op["responses"]["200"]["headers"]
                .as_object()
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("x-cache")))
        })
        .count();
    assert_eq!(names.len(), cached_operations, "{names:?}");
    assert!(names.len() >= 15, "{names:?}");
}
