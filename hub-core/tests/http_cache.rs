//! HTTP-level caching behaviour of the runtime inside a real `#[OpenApi]` service, written the
//! way `#[cached]` expands (docs/contract/cache-design.md sections 4 and 6): `ETag`, `If-None-Match` -> `304`,
//! `Cache-Status`, the OpenAPI document, and single-flight coalescing of concurrent misses
//! (with a slow, counting handler).

use hub_core::tables::Table;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hub_core::cache::backend::{BoxFuture, Found};
use hub_core::cache::envelope::etag_for;
use hub_core::cache::observer::CacheObserver;
use hub_core::cache::runtime::{CacheSpec, Cached, KeyParam, ResponseCache, Ttl, serve};
use hub_core::cache::{CacheBackend, CacheError, NullCache, RedisCache, RedisOptions};
use hub_core::test_support::{FailingCacheForTests, RedisServer};
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request, Response, Route};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, OpenApiService};

/// A handler that counts its runs, optionally sleeps, and can fail on its first run.
struct Api {
    runs: Arc<AtomicUsize>,
}

#[OpenApi]
impl Api {
    /// `sleep_ms`: how long the handler takes; `fail_first`: the first run answers 500;
    /// `stall_first`: the first run takes 5 s instead; `v`: part of the key and of the body.
    #[oai(path = "/slow", method = "get")]
    async fn slow(
        &self,
        req: &Request,
        v: Query<Option<String>>,
        sleep_ms: Query<Option<u64>>,
        fail_first: Query<Option<bool>>,
        stall_first: Query<Option<bool>>,
    ) -> Cached<poem::Result<Json<serde_json::Value>>> {
        static SPEC: CacheSpec = CacheSpec {
            reads: Table::ALL,
            name: "slow",
            ttl: Ttl::Seconds(30),
            // `sleep_ms` and `stall_first` are left out of the key on purpose: requests
            // differing only in them coalesce.
            params: &[KeyParam::first("v"), KeyParam::first("fail_first")],
        };
        let runs = self.runs.clone();
        serve(&SPEC, req, String::new(), async move || {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            let stall = run == 0 && stall_first.0 == Some(true);
            let sleep = if stall { 5000 } else { sleep_ms.0.unwrap_or(0) };
            tokio::time::sleep(Duration::from_millis(sleep)).await;
            if run == 0 && fail_first.0 == Some(true) {
                return Err(poem::Error::from_string(
                    "leader failed",
                    StatusCode::INTERNAL_SERVER_ERROR,
                ));
            }
            Ok(Json(
                serde_json::json!({ "v": v.0, "big": "x".repeat(2000) }),
            ))
        })
        .await
    }
}

#[derive(Default)]
struct Coalesced(AtomicUsize);

impl CacheObserver for Coalesced {
    fn coalesced(&self, _name: &'static str) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct Harness {
    app: Arc<BoxEndpoint<'static, Response>>,
    runs: Arc<AtomicUsize>,
}

fn harness(cache: Option<ResponseCache>) -> Harness {
    let runs = Arc::new(AtomicUsize::new(0));
    let route = Route::new().nest(
        "/",
        OpenApiService::new(Api { runs: runs.clone() }, "t", "1"),
    );
    let app = match cache {
        Some(c) => route.data(c).map_to_response().boxed(),
        None => route.map_to_response().boxed(),
    };
    Harness {
        app: Arc::new(app),
        runs,
    }
}

fn null_cache() -> ResponseCache {
    ResponseCache::new(
        Arc::new(NullCache),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
}

fn redis_cache(server: &RedisServer) -> ResponseCache {
    let backend = RedisCache::new(RedisOptions::local(server.port())).unwrap();
    ResponseCache::new(
        Arc::new(backend),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
}

#[derive(Debug, Clone)]
struct Got {
    status: StatusCode,
    x_cache: String,
    etag: String,
    cache_status: String,
    content_type: String,
    body: Vec<u8>,
}

async fn send(app: &BoxEndpoint<'static, Response>, uri: &str, inm: &[&str]) -> Got {
    let mut b = Request::builder()
        .method(Method::GET)
        .uri(uri.parse().unwrap());
    for v in inm {
        b = b.header("if-none-match", *v);
    }
    let resp = app.get_response(b.finish()).await;
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    Got {
        status: resp.status(),
        x_cache: header("x-cache"),
        etag: header("etag"),
        cache_status: header("cache-status"),
        content_type: header("content-type"),
        body: resp.into_body().into_vec().await.unwrap(),
    }
}

impl Harness {
    async fn get(&self, uri: &str) -> Got {
        send(&self.app, uri, &[]).await
    }

    async fn get_if(&self, uri: &str, inm: &[&str]) -> Got {
        send(&self.app, uri, inm).await
    }

    /// `n` concurrent GETs of `uri`, each on its own task.
    async fn concurrent(&self, uri: &str, n: usize) -> Vec<Got> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let app = self.app.clone();
                let uri = uri.to_string();
                tokio::spawn(async move { send(&app, &uri, &[]).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn etag_is_the_body_hash_on_miss_and_hit_and_changes_with_content() {
    let server = RedisServer::start();
    let h = harness(Some(redis_cache(&server)));
    let miss = h.get("/slow?v=a").await;
    let hit = h.get("/slow?v=a").await;
    assert_eq!(
        (miss.x_cache.as_str(), hit.x_cache.as_str()),
        ("MISS", "HIT")
    );
    assert_eq!(miss.etag, etag_for(&miss.body));
    assert_eq!(
        hit.etag, miss.etag,
        "HIT and MISS of the same bytes share the ETag"
    );
    assert!(!miss.etag.starts_with("W/") && miss.etag.starts_with('"'));
    let other = h.get("/slow?v=b").await;
    assert_ne!(other.etag, miss.etag);
    assert_eq!(other.etag, etag_for(&other.body));

    // Without Redis, and without any ResponseCache at all, the ETag is the same hash.
    for cache in [Some(null_cache()), None] {
        let h = harness(cache);
        let r = h.get("/slow?v=a").await;
        assert_eq!(r.x_cache, "MISS");
        assert_eq!(r.etag, miss.etag);
    }
}

#[tokio::test]
async fn if_none_match_gives_304_for_exact_star_list_and_weak_forms() {
    let server = RedisServer::start();
    let h = harness(Some(redis_cache(&server)));
    let first = h.get("/slow?v=n").await;
    let tag = first.etag.clone();
    let weak = format!("W/{tag}");
    let list = format!("\"nope\", {weak} , \"other\"");
    for (what, inm) in [
        ("exact", vec![tag.as_str()]),
        ("star", vec!["*"]),
        ("list", vec![list.as_str()]),
        ("weak", vec![weak.as_str()]),
        ("two header lines", vec!["\"nope\"", tag.as_str()]),
    ] {
        let r = h.get_if("/slow?v=n", &inm).await;
        assert_eq!(r.status, StatusCode::NOT_MODIFIED, "{what}");
        assert!(r.body.is_empty(), "{what}: 304 has no body");
        assert_eq!(r.etag, tag, "{what}");
        assert_eq!(r.x_cache, "HIT", "{what}: a 304 from the cache is a hit");
        assert!(r.cache_status.starts_with("hub; hit; ttl="), "{what}");
        assert_eq!(r.content_type, "", "{what}");
    }
    for (what, inm) in [
        ("other tag", "\"0123\""),
        ("unquoted", tag.trim_matches('"')),
        ("prefix", &tag[..10]),
    ] {
        let r = h.get_if("/slow?v=n", &[inm]).await;
        assert_eq!(r.status, StatusCode::OK, "{what}");
        assert_eq!(r.body, first.body, "{what}");
        assert_eq!(r.etag, tag, "{what}");
    }
    // On a MISS (cache disabled) the handler runs, then its bytes are compared.
    let h = harness(Some(null_cache()));
    let r = h.get_if("/slow?v=n", &[&tag]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        (r.x_cache.as_str(), r.etag.as_str()),
        ("MISS", tag.as_str())
    );
    assert!(r.body.is_empty());
    assert_eq!(h.runs(), 1);
}

#[tokio::test]
async fn cache_status_tells_hit_miss_and_bypass() {
    let mut server = RedisServer::start();
    let h = harness(Some(redis_cache(&server)));
    let miss = h.get("/slow?v=s").await;
    assert_eq!(miss.cache_status, "hub; fwd=miss; stored");
    let hit = h.get("/slow?v=s").await;
    let ttl: u64 = hit
        .cache_status
        .strip_prefix("hub; hit; ttl=")
        .unwrap_or_else(|| panic!("{}", hit.cache_status))
        .parse()
        .unwrap();
    assert!((29..=30).contains(&ttl), "{}", hit.cache_status);

    let disabled = harness(Some(null_cache())).get("/slow").await;
    assert_eq!(disabled.cache_status, "hub; fwd=bypass; detail=disabled");
    let absent = harness(None).get("/slow").await;
    assert_eq!(absent.cache_status, "hub; fwd=bypass; detail=disabled");
    let failing = ResponseCache::new(
        Arc::new(FailingCacheForTests::new()),
        Duration::from_secs(30),
        Duration::from_secs(30),
    );
    let unavailable = harness(Some(failing)).get("/slow").await;
    assert_eq!(unavailable.status, StatusCode::OK);
    assert_eq!(
        unavailable.cache_status,
        "hub; fwd=bypass; detail=unavailable"
    );
    server.kill();
    let down = h.get("/slow?v=down").await;
    assert_eq!(down.cache_status, "hub; fwd=bypass; detail=unavailable");
    assert_eq!(down.x_cache, "MISS");
}

#[tokio::test]
async fn hit_ttl_counts_down_from_stored_at() {
    let server = RedisServer::start();
    let backend = RedisCache::new(RedisOptions::local(server.port())).unwrap();
    let cache = ResponseCache::new(
        Arc::new(backend),
        Duration::from_secs(3),
        Duration::from_secs(3),
    );
    let h = harness(Some(cache));
    // Stored with ttl = Seconds(30) from the spec, not the 3 s default.
    h.get("/slow?v=t").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let hit = h.get("/slow?v=t").await;
    let ttl: u64 = hit.cache_status["hub; hit; ttl=".len()..].parse().unwrap();
    assert!((27..=28).contains(&ttl), "{}", hit.cache_status);
}

#[tokio::test]
async fn errors_carry_no_etag_or_cache_status() {
    let h = harness(Some(null_cache()));
    let r = h.get("/slow?fail_first=true").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        (r.etag.as_str(), r.cache_status.as_str(), r.x_cache.as_str()),
        ("", "", "")
    );
}

#[tokio::test]
async fn openapi_lists_the_cache_headers_and_the_304() {
    let svc = OpenApiService::new(
        Api {
            runs: Arc::default(),
        },
        "t",
        "1",
    );
    let doc: serde_json::Value = serde_json::from_str(&svc.spec()).unwrap();
    let responses = &doc["paths"]["/slow"]["get"]["responses"];
    for status in ["200", "304"] {
        for header in ["X-Cache", "ETag", "Cache-Status", "Cache-Control"] {
            assert!(
                responses[status]["headers"][header]["schema"].is_object(),
                "{status} lacks {header}: {responses}"
            );
        }
    }
    assert!(responses["304"].get("content").is_none(), "{responses}");
    assert!(responses["200"]["content"].is_object());
}

#[tokio::test]
async fn sixty_four_concurrent_misses_run_the_handler_once() {
    for redis in [false, true] {
        let server = RedisServer::start();
        let observer = Arc::new(Coalesced::default());
        let cache = if redis {
            redis_cache(&server)
        } else {
            null_cache()
        }
        .with_observer(observer.clone());
        let h = harness(Some(cache));
        let all = h.concurrent("/slow?v=c&sleep_ms=400", 64).await;
        assert_eq!(
            h.runs(),
            1,
            "redis={redis}: the handler ran {} times",
            h.runs()
        );
        assert_eq!(observer.0.load(Ordering::SeqCst), 63, "redis={redis}");
        let first = &all[0];
        for r in &all {
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.x_cache, "MISS");
            assert_eq!(
                r.body, first.body,
                "every waiter gets the leader's exact bytes"
            );
            assert_eq!(r.etag, first.etag);
            assert!(r.content_type.starts_with("application/json"));
        }
        let collapsed = all
            .iter()
            .filter(|r| r.cache_status.ends_with("; collapsed"))
            .count();
        assert_eq!(collapsed, 63, "redis={redis}");
        // Different keys are not coalesced.
        let before = h.runs();
        let (a, b) = tokio::join!(
            h.get("/slow?v=d1&sleep_ms=200"),
            h.get("/slow?v=d2&sleep_ms=200")
        );
        assert_ne!(a.body, b.body);
        assert_eq!(h.runs(), before + 2);
        if redis {
            assert_eq!(h.get("/slow?v=c&sleep_ms=400").await.x_cache, "HIT");
        }
    }
}

#[tokio::test]
async fn without_coalescing_every_concurrent_miss_runs_the_handler() {
    let h = harness(Some(null_cache().without_coalescing()));
    let all = h.concurrent("/slow?v=c&sleep_ms=200", 16).await;
    assert_eq!(h.runs(), 16);
    assert!(all.iter().all(|r| r.status == StatusCode::OK));
}

#[tokio::test]
async fn a_failing_leader_does_not_fail_its_waiters() {
    let h = harness(Some(null_cache()));
    let all = h
        .concurrent("/slow?v=f&sleep_ms=300&fail_first=true", 16)
        .await;
    let failed = all
        .iter()
        .filter(|r| r.status == StatusCode::INTERNAL_SERVER_ERROR)
        .count();
    assert_eq!(failed, 1, "only the leader fails");
    assert_eq!(
        all.iter().filter(|r| r.status == StatusCode::OK).count(),
        15
    );
    assert_eq!(
        h.runs(),
        2,
        "one waiter of the failed leader leads in its place, the others wait on it"
    );
}

#[tokio::test]
async fn a_cancelled_leader_does_not_strand_its_waiters() {
    let h = harness(Some(null_cache()));
    let leader = {
        let app = h.app.clone();
        tokio::spawn(async move { send(&app, "/slow?v=x&sleep_ms=5000", &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let app = h.app.clone();
            tokio::spawn(async move { send(&app, "/slow?v=x&sleep_ms=50", &[]).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.runs(), 1, "the waiters wait for the leader");
    leader.abort();
    for w in waiters {
        let r = tokio::time::timeout(Duration::from_secs(2), w)
            .await
            .expect("waiters are released when the leader is cancelled")
            .unwrap();
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(h.runs(), 2, "one waiter took over, the others waited on it");
}

#[tokio::test]
async fn waiters_stop_waiting_for_a_stalled_leader_after_the_bound() {
    let bound = Duration::from_millis(200);
    let h = harness(Some(null_cache().with_coalesce_wait(bound)));
    let uri = "/slow?v=stall&stall_first=true";
    let leader = {
        let app = h.app.clone();
        tokio::spawn(async move { send(&app, uri, &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let waiters = h.concurrent(uri, 8).await;
    let waited = started.elapsed();
    assert!(waiters.iter().all(|r| r.status == StatusCode::OK));
    assert!(
        waited >= bound && waited < Duration::from_secs(2),
        "waiters answered after {waited:?}, the leader stalls for 5 s"
    );
    assert_eq!(
        h.runs(),
        9,
        "each waiter past the bound ran the handler itself"
    );
    leader.abort();
}

/// The options of a Redis whose calls may take up to 2 s: long enough that waiting for one
/// shows in the response times below.
fn slow_timeout_cache(server: &RedisServer) -> ResponseCache {
    let options = RedisOptions {
        timeout: Duration::from_secs(2),
        ..RedisOptions::local(server.port())
    };
    ResponseCache::new(
        Arc::new(RedisCache::new(options).unwrap()),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
}

#[tokio::test]
async fn neither_waiters_nor_the_leader_wait_for_the_store() {
    let mut server = RedisServer::start();
    let h = harness(Some(slow_timeout_cache(&server)));
    // Warm the connection so that the lookups below are quick.
    assert_eq!(h.get("/slow?v=warm").await.status, StatusCode::OK);
    let started = std::time::Instant::now();
    let all = {
        let requests = h.concurrent("/slow?v=frozen&sleep_ms=400", 8);
        let freeze = async {
            // The lookups are done; the SET of the leader will hit a frozen Redis.
            tokio::time::sleep(Duration::from_millis(150)).await;
            server.pause();
        };
        let (all, ()) = tokio::join!(requests, freeze);
        all
    };
    let took = started.elapsed();
    server.resume();
    assert_eq!(h.runs(), 2, "the warm-up and one leader");
    assert!(all.iter().all(|r| r.status == StatusCode::OK));
    assert!(
        took < Duration::from_millis(1500),
        "answers took {took:?}: someone waited for the SET on a SIGSTOPped Redis"
    );
}

/// A real Redis whose writes take `delay` longer: fault injection for the moment between a
/// leader's answer and the end of its store.
struct SlowWritesForTests {
    redis: RedisCache,
    delay: Duration,
}

impl CacheBackend for SlowWritesForTests {
    fn kind(&self) -> &'static str {
        "redis"
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        self.redis.get(key)
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.redis.set(key, value, ttl).await
        })
    }
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'static str],
        with_expiry: bool,
    ) -> BoxFuture<'a, Result<Found, CacheError>> {
        self.redis.lookup(key, names, with_expiry)
    }
    fn invalidate<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        self.redis.invalidate(name)
    }
    fn ping(&self) -> BoxFuture<'_, bool> {
        self.redis.ping()
    }
    fn close(&self) -> BoxFuture<'_, ()> {
        self.redis.close()
    }
}

#[tokio::test]
async fn a_request_that_misses_while_the_store_runs_gets_the_published_response() {
    let server = RedisServer::start();
    let backend = SlowWritesForTests {
        redis: RedisCache::new(RedisOptions::local(server.port())).unwrap(),
        delay: Duration::from_millis(600),
    };
    let h = harness(Some(ResponseCache::new(
        Arc::new(backend),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )));
    let started = std::time::Instant::now();
    let first = h.get("/slow?v=p").await;
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the leader's answer waited for the store: {:?}",
        started.elapsed()
    );
    assert_eq!(first.cache_status, "hub; fwd=miss; stored");
    // The entry is not in Redis yet; the flight still holds the response.
    let second = h.get("/slow?v=p").await;
    assert_eq!(h.runs(), 1);
    assert_eq!(second.x_cache, "HIT");
    assert!(
        second.cache_status.starts_with("hub; hit; ttl="),
        "{}",
        second.cache_status
    );
    assert_eq!((&second.body, &second.etag), (&first.body, &first.etag));
    assert!(second.content_type.starts_with("application/json"));
    // Once stored, Redis serves it.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let third = h.get("/slow?v=p").await;
    assert_eq!((third.x_cache.as_str(), h.runs()), ("HIT", 1));
    assert_eq!(third.body, first.body);
}
