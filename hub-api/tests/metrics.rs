//! `GET /metrics` end to end: cache counters fed by the runtime's observer, the breaker gauge,
//! the request-duration histogram and Basic auth, against the real app and, where the cache
//! matters, a real redis-server (docs/metrics.md).

use crate::common;

use common::*;
use hub_core::cache::runtime::ResponseCache;
use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
use hub_core::settings::AuthSettings;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use poem::web::headers::Authorization;
use std::sync::Arc;
use std::time::Duration;

/// A Redis cache whose breaker, once open, stays open for the rest of the test.
fn redis_cache(port: u16) -> ResponseCache {
    let options = RedisOptions {
        prefix: "hub".into(),
        timeout: Duration::from_millis(100),
        breaker_open_for: Duration::from_secs(60),
        ..RedisOptions::local(port)
    };
    let backend: Arc<dyn CacheBackend> = Arc::new(RedisCache::new(options).expect("redis options"));
    let ttl = Duration::from_secs(30);
    ResponseCache::new(backend, ttl, ttl)
}

/// One sample line of the text format: metric name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Parses the sample lines (comments skipped). Label values here never hold `"` or `,`.
fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest.strip_suffix('}').expect("closing brace");
                    let labels = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once('=').expect("label=value");
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
                None => (series.to_string(), Vec::new()),
            };
            Sample {
                name,
                labels,
                value: value.parse().expect("numeric value"),
            }
        })
        .collect()
}

/// Sum of the samples of `name` whose labels include all of `want` (0 when none match).
fn value(text: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    matching(text, name, want).iter().map(|s| s.value).sum()
}

fn matching(text: &str, name: &str, want: &[(&str, &str)]) -> Vec<Sample> {
    samples(text)
        .into_iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .collect()
}

/// Scrapes `/metrics`, asserting 200.
async fn scrape(app: &TestApp) -> String {
    let resp = app.get("/metrics").await;
    resp.assert_status_is_ok();
    resp.0.into_body().into_string().await.unwrap()
}

fn requests(text: &str, cache: &str, result: &str) -> f64 {
    value(
        text,
        "hub_cache_requests_total",
        &[("cache", cache), ("result", result)],
    )
}

async fn x_cache(app: &TestApp, uri: &str) -> String {
    let resp = app.get(uri).await;
    resp.assert_status_is_ok();
    resp.0
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_miss_then_a_hit_move_each_counter_by_exactly_one() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port())).await;
    let before = scrape(&app).await;
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "MISS");
    let middle = scrape(&app).await;
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "HIT");
    let after = scrape(&app).await;

    assert_eq!(
        requests(&middle, "nodes", "miss") - requests(&before, "nodes", "miss"),
        1.0
    );
    assert_eq!(
        requests(&middle, "nodes", "hit") - requests(&before, "nodes", "hit"),
        0.0
    );
    assert_eq!(
        requests(&after, "nodes", "miss") - requests(&middle, "nodes", "miss"),
        0.0
    );
    assert_eq!(
        requests(&after, "nodes", "hit") - requests(&middle, "nodes", "hit"),
        1.0
    );
    assert_eq!(requests(&after, "nodes", "bypass"), 0.0);
    let stores = |t: &str| value(t, "hub_cache_stores_total", &[("cache", "nodes")]);
    assert_eq!(stores(&after) - stores(&before), 1.0, "{after}");
    assert_eq!(value(&after, "hub_cache_errors_total", &[]), 0.0);
    // Other caches were not touched.
    assert_eq!(value(&after, "hub_cache_requests_total", &[]), 2.0);
    // A healthy Redis: the breaker is closed.
    assert_eq!(
        matching(&after, "hub_cache_breaker_state", &[])
            .iter()
            .map(|s| s.value)
            .collect::<Vec<_>>(),
        vec![0.0]
    );
}

#[tokio::test]
async fn the_null_cache_counts_bypasses_and_has_no_breaker() {
    let app = fixture_app().await;
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "MISS");
    assert_eq!(x_cache(&app, "/api/v1/nodes?limit=3").await, "MISS");
    assert_eq!(x_cache(&app, "/api/v1/channels").await, "MISS");
    let text = scrape(&app).await;
    assert_eq!(requests(&text, "nodes", "bypass"), 2.0, "{text}");
    assert_eq!(requests(&text, "channels", "bypass"), 1.0);
    assert_eq!(requests(&text, "nodes", "miss"), 0.0);
    assert_eq!(requests(&text, "nodes", "hit"), 0.0);
    assert_eq!(value(&text, "hub_cache_stores_total", &[]), 0.0);
    assert_eq!(value(&text, "hub_cache_errors_total", &[]), 0.0);
    assert!(
        !text.contains("hub_cache_breaker_state"),
        "the null cache has no breaker: {text}"
    );
}

#[tokio::test]
async fn redis_down_counts_errors_and_bypasses_and_opens_the_breaker() {
    let mut redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port())).await;
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "MISS");
    let breaker = |t: &str| value(t, "hub_cache_breaker_state", &[]);
    let before = scrape(&app).await;
    assert_eq!(breaker(&before), 0.0);
    assert_eq!(value(&before, "hub_cache_errors_total", &[]), 0.0);

    redis.kill();
    for _ in 0..3 {
        // Still answered from the database.
        assert_eq!(x_cache(&app, "/api/v1/nodes").await, "MISS");
    }
    let open = scrape(&app).await;
    assert!(
        value(&open, "hub_cache_errors_total", &[("cache", "nodes")]) >= 3.0,
        "{open}"
    );
    assert_eq!(requests(&open, "nodes", "bypass"), 3.0, "{open}");
    assert_eq!(breaker(&open), 2.0, "breaker open after 3 failures: {open}");

    // With the circuit open, requests keep bypassing.
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "MISS");
    let later = scrape(&app).await;
    assert_eq!(requests(&later, "nodes", "bypass"), 4.0, "{later}");
    assert_eq!(breaker(&later), 2.0);
    assert_eq!(requests(&later, "nodes", "hit"), 0.0);
}

#[tokio::test]
async fn the_histogram_labels_route_templates_methods_statuses_and_cache_results() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port())).await;
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "MISS");
    // A trailing slash is the same route and the same cache entry.
    assert_eq!(x_cache(&app, "/api/v1/nodes/").await, "HIT");
    assert_eq!(x_cache(&app, "/api/v1/nodes").await, "HIT");
    app.get(&format!("/api/v1/nodes/{}", pk("a1fa")))
        .await
        .assert_status_is_ok();
    app.get(&format!("/api/v1/nodes/{}", pk("ffff")))
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.get("/api/v1/nodes?limit=0")
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    app.get("/no/such/path/12345")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.get("/health").await.assert_status_is_ok();
    let text = scrape(&app).await;

    let count = |route: &str, status: &str, cache: &str| {
        value(
            &text,
            "hub_http_request_duration_seconds_count",
            &[
                ("route", route),
                ("method", "GET"),
                ("status", status),
                ("cache", cache),
            ],
        )
    };
    assert_eq!(count("/api/v1/nodes", "200", "miss"), 1.0, "{text}");
    assert_eq!(count("/api/v1/nodes", "200", "hit"), 2.0, "{text}");
    assert_eq!(count("/api/v1/nodes", "422", "none"), 1.0, "{text}");
    let item = "/api/v1/nodes/{public_key}";
    assert_eq!(count(item, "200", "none"), 1.0, "{text}");
    assert_eq!(count(item, "404", "none"), 1.0, "{text}");
    assert_eq!(count("other", "404", "none"), 1.0, "{text}");
    assert_eq!(count("/health", "200", "none"), 1.0, "{text}");
    // Concrete paths never become label values (the node's key is a label of the network
    // series, `meshcore_node_last_seen_timestamp_seconds`, only).
    let hub_series: String = text
        .lines()
        .filter(|l| l.starts_with("hub_"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!hub_series.contains(&pk("a1fa")), "{text}");
    assert!(!text.contains("/no/such/path"), "{text}");
    // Buckets are cumulative up to +Inf, which equals the count.
    let inf = value(
        &text,
        "hub_http_request_duration_seconds_bucket",
        &[("route", "/api/v1/nodes"), ("cache", "hit"), ("le", "+Inf")],
    );
    assert_eq!(inf, 2.0, "{text}");
    let sum = value(
        &text,
        "hub_http_request_duration_seconds_sum",
        &[("route", "/api/v1/nodes"), ("cache", "miss")],
    );
    assert!(sum > 0.0, "{text}");
}

#[tokio::test]
async fn apps_do_not_share_metrics() {
    let one = fixture_app().await;
    let two = fixture_app().await;
    one.get("/api/v1/nodes").await.assert_status_is_ok();
    assert_eq!(requests(&scrape(&one).await, "nodes", "bypass"), 1.0);
    assert_eq!(requests(&scrape(&two).await, "nodes", "bypass"), 0.0);
}

#[tokio::test]
async fn metrics_are_open_without_keys_and_never_stored() {
    let app = fixture_app().await;
    // The histogram has a sample (the first scrape) by the second scrape.
    app.get("/metrics").await.assert_status_is_ok();
    let resp = app.get("/metrics").await;
    resp.assert_status_is_ok();
    resp.assert_header("cache-control", "no-store");
    let content_type = resp.0.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = resp.0.into_body().into_string().await.unwrap();
    assert!(
        text.contains("# TYPE hub_http_request_duration_seconds histogram"),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "hub_http_request_duration_seconds_count",
            &[("route", "/metrics"), ("status", "200"), ("cache", "none")]
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn basic_auth_guards_metrics_when_a_read_key_is_set() {
    let app = fixture_app_with(AuthSettings {
        read_key: Some("read-secret".into()),
        admin_key: None,
    })
    .await;

    async fn assert_denied(resp: poem::test::TestResponse, detail: &str) {
        resp.assert_status(StatusCode::UNAUTHORIZED);
        resp.assert_header("www-authenticate", "Basic realm=\"metrics\"");
        resp.assert_header("cache-control", "no-store");
        let body: serde_json::Value = resp.json().await.value().deserialize();
        assert_eq!(body, serde_json::json!({ "detail": detail }));
    }

    assert_denied(app.get("/metrics").await, "Authentication required").await;
    let basic = |user: &str, password: &str| Authorization::basic(user, password);
    for (user, password) in [
        ("metrics", "wrong"),
        ("metrics", ""),
        ("admin", "read-secret"),
        ("metrics", "read-secret "),
    ] {
        let resp = app
            .client
            .get("/metrics")
            .typed_header(basic(user, password))
            .send()
            .await;
        assert_denied(resp, "Invalid credentials").await;
    }
    // The bearer token of the data routes is not Basic auth.
    let resp = app
        .client
        .get("/metrics")
        .header("Authorization", "Bearer read-secret")
        .send()
        .await;
    assert_denied(resp, "Authentication required").await;

    // Refused by the bearer check before any operation matched: no template to report.
    app.get("/api/v1/nodes")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);

    let resp = app
        .client
        .get("/metrics")
        .typed_header(basic("metrics", "read-secret"))
        .send()
        .await;
    resp.assert_status_is_ok();
    resp.assert_header("cache-control", "no-store");
    let text = resp.0.into_body().into_string().await.unwrap();
    // The refused scrapes were still measured, under the /metrics route.
    assert_eq!(
        value(
            &text,
            "hub_http_request_duration_seconds_count",
            &[("route", "/metrics"), ("status", "401")]
        ),
        6.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "hub_http_request_duration_seconds_count",
            &[("route", "other"), ("status", "401")]
        ),
        1.0,
        "{text}"
    );
}
