//! Stale-while-revalidate against a real Redis: an entry past its TTL but inside the grace
//! period is served at once, marked stale, while exactly one background refresh recomputes
//! it; a failing refresh keeps the stale entry served (stale-if-error); an invalidated entry
//! is never served stale.

use hub_core::tables::Table;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hub_core::cache::runtime::{CacheSpec, Cached, ResponseCache, Ttl, serve};
use hub_core::cache::{RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;
use poem::endpoint::{DynEndpoint, ToDynEndpoint};
use poem::http::StatusCode;
use poem::{EndpointExt, Request, Response, Route};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, OpenApiService};

/// TTL of the test operation; short so that tests reach the grace period quickly.
const TTL_SECS: u64 = 1;

struct Api {
    runs: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

#[OpenApi]
impl Api {
    /// Takes 600 ms, answers its run number, or a 503 while `failing` is set.
    #[oai(path = "/item", method = "get")]
    async fn item(&self, req: &Request) -> Cached<poem::Result<Json<serde_json::Value>>> {
        static SPEC: CacheSpec = CacheSpec {
            reads: Table::ALL,
            name: "item",
            ttl: Ttl::Seconds(TTL_SECS),
            params: &[],
        };
        let (runs, failing) = (self.runs.clone(), self.failing.clone());
        serve(&SPEC, req, String::new(), async move || {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(600)).await;
            if failing.load(Ordering::SeqCst) {
                return Err(poem::Error::from_string(
                    "database unavailable",
                    StatusCode::SERVICE_UNAVAILABLE,
                ));
            }
            Ok(Json(serde_json::json!({ "run": run })))
        })
        .await
    }
}

struct Harness {
    app: Arc<dyn DynEndpoint<Output = Response>>,
    cache: ResponseCache,
    runs: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    _redis: RedisServer,
}

fn harness(grace: Duration) -> Harness {
    let redis = RedisServer::start();
    let backend = RedisCache::new(RedisOptions::local(redis.port())).unwrap();
    let ttl = Duration::from_secs(TTL_SECS);
    let cache = ResponseCache::new(Arc::new(backend), ttl, ttl).with_grace(grace);
    let runs = Arc::new(AtomicUsize::new(0));
    let failing = Arc::new(AtomicBool::new(false));
    let api = Api {
        runs: runs.clone(),
        failing: failing.clone(),
    };
    let route = Route::new()
        .nest("/", OpenApiService::new(api, "t", "1"))
        .data(cache.clone());
    let app: Arc<dyn DynEndpoint<Output = Response>> = Arc::new(ToDynEndpoint(route));
    cache.refresh_through(Arc::downgrade(&app));
    Harness {
        app,
        cache,
        runs,
        failing,
        _redis: redis,
    }
}

#[derive(Debug)]
struct Got {
    status: StatusCode,
    cache_status: String,
    run: i64,
    took: Duration,
}

async fn get(h: &Harness) -> Got {
    get_from(&h.app).await
}

async fn get_from(app: &Arc<dyn DynEndpoint<Output = Response>>) -> Got {
    let start = Instant::now();
    let resp = app
        .call(Request::builder().uri_str("/item").finish())
        .await
        .unwrap();
    let took = start.elapsed();
    let status = resp.status();
    let cache_status = resp
        .headers()
        .get("cache-status")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: serde_json::Value = resp.into_body().into_json().await.unwrap_or_default();
    Got {
        status,
        cache_status,
        run: body["run"].as_i64().unwrap_or(-1),
        took,
    }
}

/// Waits until the background refresh (if any) has finished.
async fn settle(h: &Harness) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.cache.refreshes_in_flight() > 0 {
        assert!(Instant::now() < deadline, "refresh did not finish");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn past_ttl() {
    tokio::time::sleep(Duration::from_millis(TTL_SECS * 1000 + 100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_entry_is_served_at_once_and_refreshed_once_for_50_requests() {
    let h = harness(Duration::from_secs(30));
    assert_eq!(get(&h).await.run, 1);
    let hit = get(&h).await;
    assert!(hit.cache_status.starts_with("hub; hit; ttl="), "{hit:?}");
    past_ttl().await;

    let all = concurrently(&h, 50).await;
    for got in &all {
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.run, 1, "the stale entry is served: {got:?}");
        assert_eq!(got.cache_status, "hub; hit; stale");
        // The handler takes 600 ms: a stale answer never waits for it.
        assert!(got.took < Duration::from_millis(400), "{got:?}");
    }
    settle(&h).await;
    assert_eq!(
        h.runs.load(Ordering::SeqCst),
        2,
        "exactly one background refresh"
    );
    let fresh = get(&h).await;
    assert_eq!(fresh.run, 2, "the refreshed entry: {fresh:?}");
    assert!(
        fresh.cache_status.starts_with("hub; hit; ttl="),
        "{fresh:?}"
    );
}

/// `n` concurrent requests.
async fn concurrently(h: &Harness, n: usize) -> Vec<Got> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let app = h.app.clone();
            tokio::spawn(async move { get_from(&app).await })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_refresh_keeps_the_stale_entry_served() {
    let h = harness(Duration::from_secs(30));
    assert_eq!(get(&h).await.run, 1);
    past_ttl().await;
    h.failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        let got = get(&h).await;
        assert_eq!((got.status, got.run), (StatusCode::OK, 1), "{got:?}");
        assert_eq!(got.cache_status, "hub; hit; stale");
        settle(&h).await;
    }
    assert!(h.runs.load(Ordering::SeqCst) >= 2, "refreshes were tried");
    // Once the database is back, the next refresh replaces the entry.
    h.failing.store(false, Ordering::SeqCst);
    get(&h).await;
    settle(&h).await;
    let fresh = get(&h).await;
    assert!(
        fresh.run > 1 && fresh.cache_status.starts_with("hub; hit; ttl="),
        "{fresh:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidated_entry_is_never_served_stale() {
    let h = harness(Duration::from_secs(30));
    assert_eq!(get(&h).await.run, 1);
    past_ttl().await;
    h.cache.tables_changed(&[Table::Nodes]).await;
    let got = get(&h).await;
    assert_eq!(got.run, 2, "recomputed, not the stale entry: {got:?}");
    assert!(got.cache_status.contains("fwd=miss"), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_grace_an_expired_entry_is_a_miss() {
    let h = harness(Duration::ZERO);
    assert_eq!(get(&h).await.run, 1);
    assert_eq!(get(&h).await.run, 1);
    past_ttl().await;
    let got = get(&h).await;
    assert_eq!(got.run, 2, "{got:?}");
    assert!(got.cache_status.contains("fwd=miss"), "{got:?}");
    assert_eq!(h.cache.refreshes_in_flight(), 0);
}
