//! `RedisCache` against a real redis-server: storage, TTL, prefixes, and the latency and
//! recovery promises of docs/contract/cache-design.md section 9 when the server is killed, paused or absent.

use std::time::{Duration, Instant};

use hub_core::cache::{BreakerState, CacheBackend, CacheError, RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;

/// Per-call bound used in these tests.
const TIMEOUT: Duration = Duration::from_millis(100);
/// Scheduling slack on a loaded 2-core CI machine; far below the seconds an unbounded client
/// would block.
const SLACK: Duration = Duration::from_millis(150);
/// Short breaker period so recovery tests stay fast.
const OPEN_FOR: Duration = Duration::from_millis(400);

fn opts(port: u16, prefix: &str) -> RedisOptions {
    RedisOptions {
        prefix: prefix.into(),
        timeout: TIMEOUT,
        breaker_open_for: OPEN_FOR,
        ..RedisOptions::local(port)
    }
}

async fn raw(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Runs `f`, asserting it finishes within the per-call bound.
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = f.await;
    let took = start.elapsed();
    assert!(
        took <= TIMEOUT + SLACK,
        "{what} took {took:?}, bound is {:?}",
        TIMEOUT + SLACK
    );
    out
}

/// Drives the breaker open with calls that must each fail within the bound.
async fn fail_until_open(cache: &RedisCache) {
    for i in 0..3 {
        let r = bounded(&format!("failing get #{i}"), cache.get("k")).await;
        assert!(
            r.is_err(),
            "get #{i} should fail while redis is down, got {r:?}"
        );
    }
    assert_eq!(cache.breaker_state(), Some(BreakerState::Open));
    // Open: no I/O at all, so no waiting at all.
    for _ in 0..20 {
        let start = Instant::now();
        assert_eq!(cache.get("k").await, Err(CacheError::CircuitOpen));
        assert!(start.elapsed() < Duration::from_millis(10));
    }
    assert!(!cache.ping().await);
}

/// Polls until a set+get round trip works again (the breaker probes after OPEN_FOR).
async fn wait_for_recovery(cache: &RedisCache) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ok = cache
            .set("back", b"yes", Duration::from_secs(10))
            .await
            .is_ok()
            && cache.get("back").await == Ok(Some(b"yes".to_vec()));
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "caching did not resume; breaker {:?}",
            cache.breaker_state()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.breaker_state(), Some(BreakerState::Closed));
}

#[tokio::test]
async fn get_set_round_trip_and_ttl_expiry() {
    let server = RedisServer::start();
    let cache = RedisCache::new(opts(server.port(), "hub")).unwrap();
    assert_eq!(cache.kind(), "redis");
    assert!(cache.ping().await);
    assert_eq!(cache.get("nodes::").await, Ok(None));

    let value = vec![0u8, 159, 146, 150, 255]; // arbitrary, non-UTF-8 bytes
    cache
        .set("nodes::", &value, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(cache.get("nodes::").await, Ok(Some(value.clone())));

    cache
        .set("short", b"v", Duration::from_millis(150))
        .await
        .unwrap();
    assert_eq!(cache.get("short").await, Ok(Some(b"v".to_vec())));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("short").await, Ok(None), "entry must expire");

    // The TTL really is set on the Redis key.
    let mut c = raw(server.port()).await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg("hub:nodes::")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((29_000..=30_000).contains(&pttl), "pttl {pttl}");
}

#[tokio::test]
async fn prefixes_isolate_instances_on_one_server() {
    let server = RedisServer::start();
    let a = RedisCache::new(opts(server.port(), "alpha")).unwrap();
    let b = RedisCache::new(opts(server.port(), "beta")).unwrap();
    a.set("nodes::", b"from-a", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(b.get("nodes::").await, Ok(None));
    b.set("nodes::", b"from-b", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(a.get("nodes::").await, Ok(Some(b"from-a".to_vec())));
    assert_eq!(b.get("nodes::").await, Ok(Some(b"from-b".to_vec())));

    let mut c = raw(server.port()).await;
    let raw_a: Vec<u8> = redis::cmd("GET")
        .arg("alpha:nodes::")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(raw_a, b"from-a");

    assert_eq!(a.invalidate("nodes").await, Ok(1));
    assert_eq!(a.invalidate("nodes").await, Ok(2));
    assert_eq!(b.invalidate("nodes").await, Ok(1));
    let gen_a: u64 = redis::cmd("GET")
        .arg("alpha:gen:nodes")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(gen_a, 2);
}

#[tokio::test]
async fn close_stops_io_without_tripping_the_breaker() {
    let server = RedisServer::start();
    let cache = RedisCache::new(opts(server.port(), "hub")).unwrap();
    assert!(cache.ping().await);
    cache.close().await;
    assert!(cache.get("k").await.is_err());
    assert!(!cache.ping().await);
    assert_eq!(cache.breaker_state(), Some(BreakerState::Closed));
}

#[tokio::test]
async fn killed_server_bounds_calls_opens_breaker_and_recovers() {
    let mut server = RedisServer::start();
    let cache = RedisCache::new(opts(server.port(), "hub")).unwrap();
    cache.set("k", b"v", Duration::from_secs(30)).await.unwrap();

    server.kill();
    fail_until_open(&cache).await;

    server.restart();
    wait_for_recovery(&cache).await;
}

#[tokio::test]
async fn the_first_call_after_a_restart_succeeds() {
    let mut server = RedisServer::start();
    let cache = RedisCache::new(opts(server.port(), "hub")).unwrap();
    cache.set("k", b"v", Duration::from_secs(30)).await.unwrap();
    // Restarted while idle: the connection the cache holds is dead, and nothing has told it.
    server.restart();
    for i in 0..3 {
        let stored = bounded(
            &format!("set #{i} after the restart"),
            cache.set("k", b"w", Duration::from_secs(30)),
        )
        .await;
        assert_eq!(stored, Ok(()), "call #{i} after the restart");
    }
    assert_eq!(cache.get("k").await, Ok(Some(b"w".to_vec())));
    assert_eq!(cache.breaker_state(), Some(BreakerState::Closed));
}

#[tokio::test]
async fn paused_server_bounds_calls_opens_breaker_and_recovers() {
    let mut server = RedisServer::start();
    let cache = RedisCache::new(opts(server.port(), "hub")).unwrap();
    cache.set("k", b"v", Duration::from_secs(30)).await.unwrap();

    server.pause();
    fail_until_open(&cache).await;
    // Still paused after the open period: the single probe also fails within the bound and
    // re-opens the breaker.
    tokio::time::sleep(OPEN_FOR).await;
    let r = bounded("probe against paused server", cache.get("k")).await;
    assert!(matches!(r, Err(CacheError::Timeout(_))), "{r:?}");
    assert_eq!(cache.breaker_state(), Some(BreakerState::Open));

    server.resume();
    wait_for_recovery(&cache).await;
    assert_eq!(
        cache.get("k").await,
        Ok(Some(b"v".to_vec())),
        "data survived the pause"
    );
}

#[tokio::test]
async fn absent_at_startup_never_blocks_and_caching_starts_when_it_appears() {
    let mut server = RedisServer::start();
    server.kill();
    // Construction must neither fail nor wait.
    let start = Instant::now();
    let cache = RedisCache::new(opts(server.port(), "hub")).unwrap();
    assert!(start.elapsed() < Duration::from_millis(50));
    assert!(!bounded("ping", cache.ping()).await);
    // Two more failures (ping counted as one) open the breaker.
    for _ in 0..2 {
        assert!(
            bounded("set", cache.set("k", b"v", Duration::from_secs(5)))
                .await
                .is_err()
        );
    }
    assert_eq!(cache.breaker_state(), Some(BreakerState::Open));
    assert_eq!(cache.get("k").await, Err(CacheError::CircuitOpen));

    server.restart();
    wait_for_recovery(&cache).await;
}

#[tokio::test]
async fn unroutable_host_is_bounded_by_the_timeout() {
    // 10.255.255.1 normally swallows SYNs, the classic "connect hangs" case; if the sandbox
    // rejects it instead, the call just fails faster, which also satisfies the bound.
    let cache = RedisCache::new(RedisOptions {
        host: "10.255.255.1".into(),
        ..opts(6379, "hub")
    })
    .unwrap();
    for _ in 0..3 {
        assert!(bounded("get", cache.get("k")).await.is_err());
    }
    assert_eq!(cache.breaker_state(), Some(BreakerState::Open));
}

#[tokio::test]
async fn response_cache_from_settings_picks_backend_without_waiting() {
    use hub_core::cache::{CacheSettings, ResponseCache, Ttl};

    let disabled = ResponseCache::from_settings(&CacheSettings::default()).await;
    assert_eq!(disabled.backend().kind(), "null");
    assert!(!disabled.backend().is_enabled());

    // Enabled but nothing listening: construction is immediate and later calls are bounded.
    let mut server = RedisServer::start();
    server.kill();
    let settings = CacheSettings {
        redis_enabled: true,
        redis_host: "127.0.0.1".into(),
        redis_port: u32::from(server.port()),
        redis_password: Some("pw-must-not-leak".into()),
        redis_cache_ttl: 11,
        redis_cache_ttl_dashboard: 22,
        redis_timeout_ms: 100,
        ..CacheSettings::default()
    };
    let start = Instant::now();
    let cache = ResponseCache::from_settings(&settings).await;
    assert!(start.elapsed() < Duration::from_millis(50));
    assert_eq!(cache.backend().kind(), "redis");
    assert!(!bounded("ping", cache.backend().ping()).await);
    assert_eq!(cache.ttl(Ttl::Default), Duration::from_secs(11));
    assert_eq!(cache.ttl(Ttl::Dashboard), Duration::from_secs(22));
    assert_eq!(cache.ttl(Ttl::Seconds(5)), Duration::from_secs(5));
    assert!(!format!("{cache:?}").contains("pw-must-not-leak"));
    let opts = RedisOptions::from_settings(&settings);
    assert!(!format!("{opts:?}").contains("pw-must-not-leak"));
}

#[tokio::test]
async fn password_is_sent_to_the_server() {
    // A server that requires a password: the right one works, a wrong one is a bypass.
    let server = RedisServer::start();
    let mut c = raw(server.port()).await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .query_async(&mut c)
        .await
        .unwrap();
    let good = RedisCache::new(RedisOptions {
        password: Some("s3cret".into()),
        ..opts(server.port(), "hub")
    })
    .unwrap();
    assert!(good.ping().await);
    let bad = RedisCache::new(RedisOptions {
        password: Some("wrong".into()),
        ..opts(server.port(), "hub")
    })
    .unwrap();
    assert!(!bad.ping().await);
}
