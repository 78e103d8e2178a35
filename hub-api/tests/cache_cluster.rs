//! The response cache on a real three-master Redis Cluster: the same promises as on one
//! server (MISS then HIT with identical bytes, roles kept apart, writes invalidate, TTLs
//! expire), and a master killed mid-test never fails or stalls a request.

use crate::common;
use crate::writes_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hub_core::cache::{CacheBackend, RedisCache, RedisOptions, ResponseCache};
use hub_core::test_support::RedisCluster;
use poem::http::StatusCode;
use serde_json::json;
use writes_support::*;

const TIMEOUT: Duration = Duration::from_millis(150);
/// Request time allowed on top of the Redis timeouts of one request: the handler itself and a
/// loaded CI box.
const SLACK: Duration = Duration::from_millis(500);

fn cluster_cache(cluster: &RedisCluster, ttl: Duration) -> ResponseCache {
    let options = RedisOptions {
        cluster_nodes: cluster.nodes(),
        timeout: TIMEOUT,
        breaker_open_for: Duration::from_millis(300),
        ..RedisOptions::local(0)
    };
    let backend: Arc<dyn CacheBackend> = Arc::new(RedisCache::new(options).expect("options"));
    ResponseCache::new(backend, ttl, ttl)
}

/// GET as `roles`; returns (X-Cache, body), asserting 200.
async fn fetch(app: &TestApp, uri: &str, roles: &str) -> (String, Vec<u8>) {
    let resp = app.get_as(uri, roles).await;
    resp.assert_status_is_ok();
    let cache = x_cache_of(&resp);
    (cache, resp.0.into_body().into_vec().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cached_endpoint_misses_then_hits_on_a_cluster() {
    let cluster = RedisCluster::start();
    let app = fixture_app_cached(cluster_cache(&cluster, Duration::from_secs(30))).await;
    for uri in CACHED_ENDPOINTS {
        let (first, miss) = fetch(&app, uri, "admin").await;
        let (second, hit) = fetch(&app, uri, "admin").await;
        assert_eq!((first.as_str(), second.as_str()), ("MISS", "HIT"), "{uri}");
        assert_eq!(miss, hit, "{uri}: HIT body differs");
    }
    // Role-keyed endpoints: anonymous gets its own entry, never the admin one.
    for uri in [
        "/api/v1/channels",
        "/api/v1/messages",
        "/api/v1/dashboard/stats",
    ] {
        assert_eq!(fetch(&app, uri, "").await.0, "MISS", "{uri}");
        assert_eq!(fetch(&app, uri, "").await.0, "HIT", "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_invalidate_and_ttls_expire_on_a_cluster() {
    let cluster = RedisCluster::start();
    let app = fixture_app_cached(cluster_cache(&cluster, Duration::from_secs(1))).await;
    let uri = "/api/v1/channels";
    assert_eq!(fetch(&app, uri, "").await.0, "MISS");
    assert_eq!(fetch(&app, uri, "").await.0, "HIT");
    let created = post(&app, uri)
        .json(json!({"name": "Night Net", "key_hex": "AB".repeat(16), "visibility": "community"}))
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);
    let (after, body) = fetch(&app, uri, "").await;
    assert_eq!(after, "MISS");
    assert!(String::from_utf8_lossy(&body).contains("Night Net"));
    assert_eq!(fetch(&app, uri, "").await.0, "HIT");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        fetch(&app, uri, "").await.0,
        "MISS",
        "the entry outlived its TTL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_test_never_fails_or_stalls_a_request() {
    let mut cluster = RedisCluster::start();
    let app = fixture_app_cached(cluster_cache(&cluster, Duration::from_secs(30))).await;
    for uri in CACHED_ENDPOINTS {
        fetch(&app, uri, "admin").await;
    }
    cluster.kill(2);
    for round in 0..3 {
        for uri in CACHED_ENDPOINTS {
            let start = Instant::now();
            let (cache, body) = fetch(&app, uri, "admin").await;
            let took = start.elapsed();
            assert!(!body.is_empty(), "{uri}");
            assert!(
                took <= 2 * TIMEOUT + SLACK,
                "{uri} took {took:?} in round {round} with a master down ({cache})"
            );
        }
    }
}
