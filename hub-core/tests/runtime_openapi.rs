//! The cache runtime inside a real `#[OpenApi]` service, hand-written the way `#[cached]`
//! expands: compiles, serves HIT/MISS with byte-identical bodies, never fails a request when
//! the cache is broken, and keeps the typed schema plus `X-Cache` in the OpenAPI document.

use hub_core::tables::Table;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hub_core::cache::runtime::{CacheSpec, Cached, KeyParam, ResponseCache, Ttl, serve, variant};
use hub_core::cache::{CacheBackend, NullCache, RedisCache, RedisOptions};
use hub_core::test_support::{FailingCacheForTests, RedisServer};
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request, Response, Route};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, OpenApiService};

#[derive(Object, Clone)]
struct Item {
    id: u32,
    label: String,
    seen_by: Vec<String>,
}

fn role_key(req: &Request) -> String {
    let role = req
        .headers()
        .get("x-user-roles")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous");
    format!("role={role}")
}

struct Api {
    runs: Arc<AtomicUsize>,
}

#[OpenApi]
impl Api {
    /// A cached, typed handler exactly as the macro would write it.
    #[oai(path = "/items", method = "get")]
    async fn items(
        &self,
        req: &Request,
        label: Query<Option<String>>,
        #[oai(name = "seen_by")] seen_by: Query<Vec<String>>,
    ) -> Cached<poem::Result<Json<Item>>> {
        static SPEC: CacheSpec = CacheSpec {
            reads: Table::ALL,
            name: "items",
            ttl: Ttl::Dashboard,
            params: &[KeyParam::first("label"), KeyParam::all("seen_by")],
        };
        let runs = self.runs.clone();
        serve(&SPEC, req, variant(role_key, req), async move || {
            let n = runs.fetch_add(1, Ordering::SeqCst) as u32;
            let role = role_key(req);
            if label.0.as_deref() == Some("missing") {
                return Err(poem::Error::from_string(
                    "no such item",
                    StatusCode::NOT_FOUND,
                ));
            }
            Ok(Json(Item {
                id: n,
                label: format!("{}|{role}", label.0.unwrap_or_default()),
                seen_by: seen_by.0,
            }))
        })
        .await
    }

    /// Not a GET: the runtime must never store it.
    #[oai(path = "/touch", method = "post")]
    async fn touch(&self, req: &Request) -> Cached<Json<u32>> {
        static SPEC: CacheSpec = CacheSpec {
            reads: Table::ALL,
            name: "touch",
            ttl: Ttl::Seconds(60),
            params: &[],
        };
        let runs = self.runs.clone();
        serve(&SPEC, req, String::new(), async move || {
            Json(runs.fetch_add(1, Ordering::SeqCst) as u32)
        })
        .await
    }
}

struct Harness {
    app: BoxEndpoint<'static, Response>,
    runs: Arc<AtomicUsize>,
    spec_json: String,
}

fn harness(cache: Option<ResponseCache>) -> Harness {
    let runs = Arc::new(AtomicUsize::new(0));
    let svc = OpenApiService::new(Api { runs: runs.clone() }, "t", "1");
    let spec_json = svc.spec();
    let route = Route::new().nest("/", svc);
    let app = match cache {
        Some(c) => route.data(c).map_to_response().boxed(),
        None => route.map_to_response().boxed(),
    };
    Harness {
        app,
        runs,
        spec_json,
    }
}

struct Got {
    status: StatusCode,
    x_cache: String,
    content_type: String,
    body: Vec<u8>,
}

impl Harness {
    async fn send(&self, method: Method, uri: &str, role: Option<&str>) -> Got {
        let mut b = Request::builder().method(method).uri(uri.parse().unwrap());
        if let Some(r) = role {
            b = b.header("x-user-roles", r);
        }
        let resp = self.app.get_response(b.finish()).await;
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
            content_type: header("content-type"),
            body: resp.into_body().into_vec().await.unwrap(),
        }
    }

    async fn get(&self, uri: &str) -> Got {
        self.send(Method::GET, uri, None).await
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

fn redis_cache(server: &RedisServer, prefix: &str) -> (ResponseCache, Arc<RedisCache>) {
    let backend = Arc::new(
        RedisCache::new(RedisOptions {
            prefix: prefix.into(),
            breaker_open_for: Duration::from_millis(300),
            ..RedisOptions::local(server.port())
        })
        .unwrap(),
    );
    let cache = ResponseCache::new(
        backend.clone(),
        Duration::from_secs(30),
        Duration::from_secs(77),
    );
    (cache, backend)
}

async fn raw(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn miss_then_byte_identical_hit() {
    let server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "hub");
    let h = harness(Some(cache));

    let first = h.get("/items?label=a&seen_by=X&seen_by=Y").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.x_cache, "MISS");
    let second = h.get("/items?label=a&seen_by=X&seen_by=Y").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.x_cache, "HIT");
    assert_eq!(second.body, first.body, "HIT must replay the exact bytes");
    assert_eq!(second.content_type, first.content_type);
    assert!(first.content_type.starts_with("application/json"));
    assert_eq!(h.runs(), 1, "the handler must not run on a HIT");

    // Stored with the dashboard TTL from ResponseCache, under the canonical key.
    let mut c = raw(server.port()).await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg("hub:items:role=anonymous:label=a&seen_by=X&seen_by=Y")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((76_000..=77_000).contains(&pttl), "pttl {pttl}");
}

#[tokio::test]
async fn equivalent_queries_share_an_entry_and_different_ones_do_not() {
    let server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "hub");
    let h = harness(Some(cache));

    assert_eq!(h.get("/items?label=x+y&seen_by=A").await.x_cache, "MISS");
    // Reordered, percent-encoded, with an undeclared cache-buster: same entry.
    assert_eq!(
        h.get("/items?_=123&seen_by=A&label=x%20y&utm_source=z")
            .await
            .x_cache,
        "HIT"
    );
    // Repeated values are part of the key.
    assert_eq!(
        h.get("/items?label=x+y&seen_by=A&seen_by=B").await.x_cache,
        "MISS"
    );
    // `seen_by` is a `Vec`: the handler sees the order, so the key keeps it.
    assert_eq!(
        h.get("/items?label=x+y&seen_by=B&seen_by=A").await.x_cache,
        "MISS"
    );
    // `label` is single-valued: only its first occurrence is read, and keyed.
    assert_eq!(
        h.get("/items?label=x+y&seen_by=B&label=other&seen_by=A")
            .await
            .x_cache,
        "HIT"
    );
    assert_eq!(h.runs(), 3);
}

#[tokio::test]
async fn variants_never_leak_between_roles() {
    let server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "hub");
    let h = harness(Some(cache));

    let admin = h.send(Method::GET, "/items?label=s", Some("admin")).await;
    assert_eq!(admin.x_cache, "MISS");
    let anon = h.send(Method::GET, "/items?label=s", None).await;
    assert_eq!(
        anon.x_cache, "MISS",
        "anonymous must not get the admin entry"
    );
    assert_ne!(anon.body, admin.body);
    assert!(String::from_utf8_lossy(&anon.body).contains("role=anonymous"));
    let admin2 = h.send(Method::GET, "/items?label=s", Some("admin")).await;
    assert_eq!(admin2.x_cache, "HIT");
    assert_eq!(admin2.body, admin.body);
}

#[tokio::test]
async fn errors_and_non_get_are_never_stored() {
    let server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "hub");
    let h = harness(Some(cache));

    for _ in 0..2 {
        let r = h.get("/items?label=missing").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        // Handler errors propagate as poem errors, untouched (no X-Cache).
        assert_eq!(r.x_cache, "");
        assert_eq!(r.body, b"no such item");
    }
    assert_eq!(h.runs(), 2);

    for _ in 0..2 {
        let r = h.send(Method::POST, "/touch", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.x_cache, "MISS");
    }
    assert_eq!(h.runs(), 4);
    let mut c = raw(server.port()).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(keys.is_empty(), "nothing may be stored, found {keys:?}");
}

#[tokio::test]
async fn corrupt_entry_is_a_miss_and_gets_overwritten() {
    let server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "hub");
    let h = harness(Some(cache));
    let mut c = raw(server.port()).await;
    let _: () = redis::cmd("SET")
        .arg("hub:items:role=anonymous:label=c")
        .arg(b"\x00garbage")
        .query_async(&mut c)
        .await
        .unwrap();

    let first = h.get("/items?label=c").await;
    assert_eq!(
        (first.status, first.x_cache.as_str()),
        (StatusCode::OK, "MISS")
    );
    let second = h.get("/items?label=c").await;
    assert_eq!(second.x_cache, "HIT");
    assert_eq!(second.body, first.body);
}

#[tokio::test]
async fn disabled_absent_or_broken_cache_still_serves() {
    let failing = Arc::new(FailingCacheForTests::new());
    let setups: Vec<(&str, Option<ResponseCache>)> = vec![
        ("no ResponseCache data", None),
        (
            "NullCache",
            Some(ResponseCache::new(
                Arc::new(NullCache),
                Duration::from_secs(30),
                Duration::from_secs(30),
            )),
        ),
        (
            "failing backend",
            Some(ResponseCache::new(
                failing.clone(),
                Duration::from_secs(30),
                Duration::from_secs(30),
            )),
        ),
    ];
    for (what, cache) in setups {
        let h = harness(cache);
        for _ in 0..2 {
            let r = h.get("/items?label=z").await;
            assert_eq!(r.status, StatusCode::OK, "{what}");
            assert_eq!(r.x_cache, "MISS", "{what}");
            assert!(String::from_utf8_lossy(&r.body).contains("\"label\":\"z|role=anonymous\""));
        }
        assert_eq!(h.runs(), 2, "{what}: handler runs on every MISS");
    }
    // One lookup per request; no store is attempted after a failed lookup.
    assert_eq!(failing.calls(), 2);
}

#[tokio::test]
async fn dead_redis_is_a_fast_miss_and_caching_resumes() {
    let mut server = RedisServer::start();
    let (cache, backend) = redis_cache(&server, "hub");
    let h = harness(Some(cache));
    assert_eq!(h.get("/items?label=r").await.x_cache, "MISS");
    assert_eq!(h.get("/items?label=r").await.x_cache, "HIT");

    server.pause();
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let r = h.get("/items?label=r").await;
        assert_eq!((r.status, r.x_cache.as_str()), (StatusCode::OK, "MISS"));
        // At most one bounded lookup (150 ms), no store after a failed lookup; once the
        // breaker is open, no wait at all.
        assert!(
            start.elapsed() < Duration::from_millis(300),
            "{:?}",
            start.elapsed()
        );
    }
    assert_eq!(
        backend.breaker_state(),
        Some(hub_core::cache::BreakerState::Open)
    );
    server.resume();
    // Caching resumes by itself: the stored entry is served again once the probe succeeds.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while h.get("/items?label=r").await.x_cache != "HIT" {
        assert!(
            std::time::Instant::now() < deadline,
            "caching did not resume"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        backend.breaker_state(),
        Some(hub_core::cache::BreakerState::Closed)
    );
}

#[tokio::test]
async fn handler_errors_reach_error_middleware_unchanged() {
    let server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "hub");
    let runs = Arc::new(AtomicUsize::new(0));
    let app = Route::new()
        .nest("/", OpenApiService::new(Api { runs }, "t", "1"))
        .data(cache)
        .catch_all_error(|e: poem::Error| async move {
            Response::builder()
                .status(e.status())
                .body(format!("caught: {e}"))
        });
    let req = Request::builder()
        .uri("/items?label=missing".parse().unwrap())
        .finish();
    let resp = app.get_response(req).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        resp.into_body().into_string().await.unwrap(),
        "caught: no such item"
    );
}

#[tokio::test]
async fn openapi_document_keeps_typed_schema_and_x_cache_header() {
    let h = harness(None);
    let doc: serde_json::Value = serde_json::from_str(&h.spec_json).unwrap();
    let ok = &doc["paths"]["/items"]["get"]["responses"]["200"];
    assert_eq!(
        ok["content"]["application/json; charset=utf-8"]["schema"]["$ref"],
        "#/components/schemas/Item",
        "typed body schema must survive the Cached wrapper: {ok}"
    );
    let x_cache = &ok["headers"]["X-Cache"];
    assert_eq!(x_cache["schema"]["type"], "string", "{ok}");
    assert_eq!(
        x_cache["schema"]["enum"],
        serde_json::json!(["HIT", "MISS"])
    );
    assert_eq!(x_cache["required"], true);
    let item = &doc["components"]["schemas"]["Item"];
    assert_eq!(item["properties"]["seen_by"]["type"], "array", "{item}");
    // Declared query parameters are still documented (the &Request param is not).
    let params = doc["paths"]["/items"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["label", "seen_by"]);
    assert!(doc["paths"]["/touch"]["post"]["responses"]["200"]["headers"]["X-Cache"].is_object());
}

/// Counts every event the runtime reports, as `(event, name)` strings.
#[derive(Default)]
struct RecordingObserver(std::sync::Mutex<Vec<String>>);

impl hub_core::cache::observer::CacheObserver for RecordingObserver {
    fn lookup(&self, name: &'static str, outcome: hub_core::cache::observer::Lookup) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{}:{name}", outcome.as_str()));
    }
    fn stored(&self, name: &'static str) {
        self.0.lock().unwrap().push(format!("stored:{name}"));
    }
    fn error(&self, name: &'static str) {
        self.0.lock().unwrap().push(format!("error:{name}"));
    }
}

impl RecordingObserver {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// [`Self::take`] once `n` events arrived (stores run after the response, in their own
    /// task), or after 2 s with whatever there is.
    async fn take_settled(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while self.0.lock().unwrap().len() < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.take()
    }
}

#[tokio::test]
async fn the_observer_hears_every_hit_miss_bypass_store_and_error() {
    let mut server = RedisServer::start();
    let (cache, _) = redis_cache(&server, "observed");
    let observer = Arc::new(RecordingObserver::default());
    let second = Arc::new(RecordingObserver::default());
    let h = harness(Some(
        cache
            .with_observer(observer.clone())
            .with_observer(second.clone()),
    ));

    h.get("/items?label=a").await;
    // Every installed observer hears every event.
    assert_eq!(second.take_settled(2).await, ["miss:items", "stored:items"]);
    assert_eq!(
        observer.take_settled(2).await,
        ["miss:items", "stored:items"]
    );
    h.get("/items?label=a").await;
    assert_eq!(observer.take(), ["hit:items"]);
    h.send(Method::POST, "/touch", None).await;
    assert_eq!(observer.take(), ["bypass:touch"]);

    server.kill();
    h.get("/items?label=b").await;
    assert_eq!(observer.take(), ["error:items", "bypass:items"]);

    let disabled = Arc::new(RecordingObserver::default());
    let cache = ResponseCache::new(
        Arc::new(NullCache),
        Duration::from_secs(1),
        Duration::from_secs(1),
    )
    .with_observer(disabled.clone());
    harness(Some(cache)).get("/items").await;
    assert_eq!(disabled.take(), ["bypass:items"]);
}
