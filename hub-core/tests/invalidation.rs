//! Invalidation by generations against a real redis-server (docs/contract/cache-design.md section 7), through a
//! real `#[OpenApi]` service written the way `#[cached]` and `#[invalidates]` expand: a write
//! makes every entry that read one of the tables it changes a MISS; a write that fails
//! invalidates nothing; a slow miss that started before a write is never served after it;
//! the cost of a write does not depend on how many keys are cached; Redis down never fails
//! or slows a write beyond the per-call bound.

use hub_core::tables::Table;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hub_core::cache::envelope::Envelope;
use hub_core::cache::key::{KeyParam, build_key};
use hub_core::cache::observer::CacheObserver;
use hub_core::cache::runtime::{
    CacheSpec, Cached, InvalidateSpec, Invalidated, ResponseCache, Ttl, invalidating, serve,
};
use hub_core::cache::{RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;
use poem::endpoint::BoxEndpoint;
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, Request, Response, Route};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, OpenApiService};
use tokio::sync::Notify;

/// Per-call Redis bound in these tests, and scheduling slack on a loaded CI machine.
const TIMEOUT: Duration = Duration::from_millis(100);
const SLACK: Duration = Duration::from_millis(150);

/// The "database": one version number per table, bumped by the writes.
#[derive(Default)]
struct Db {
    nodes: AtomicU64,
    profiles: AtomicU64,
}

/// Gate for the slow read: its first run reads the data, then waits until released.
#[derive(Default)]
struct Gate {
    entered: Notify,
    release: Notify,
}

struct Api {
    db: Arc<Db>,
    gate: Arc<Gate>,
    slow_runs: Arc<AtomicUsize>,
}

#[derive(ApiResponse)]
enum WriteResult {
    /// Written.
    #[oai(status = 200)]
    Ok(Json<u64>),
    /// Nothing to write.
    #[oai(status = 404)]
    NotFound,
}

#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    async fn nodes(&self, req: &Request, page: Query<Option<u32>>) -> Cached<Json<String>> {
        static SPEC: CacheSpec = CacheSpec {
            name: "nodes",
            ttl: Ttl::Default,
            params: &[KeyParam::first("page")],
            reads: &[Table::Nodes],
        };
        let v = self.db.nodes.load(Ordering::SeqCst);
        serve(&SPEC, req, String::new(), async move || {
            Json(format!("nodes v{v} page {:?}", page.0))
        })
        .await
    }

    #[oai(path = "/dashboard/stats", method = "get")]
    async fn stats(&self, req: &Request) -> Cached<Json<String>> {
        static SPEC: CacheSpec = CacheSpec {
            name: "dashboard/stats",
            ttl: Ttl::Dashboard,
            params: &[],
            reads: &[Table::Nodes],
        };
        let v = self.db.nodes.load(Ordering::SeqCst);
        serve(&SPEC, req, String::new(), async move || {
            Json(format!("stats v{v}"))
        })
        .await
    }

    /// Shows profile data only: reads `user_profiles`.
    #[oai(path = "/adopted", method = "get")]
    async fn adopted(&self, req: &Request) -> Cached<Json<String>> {
        static SPEC: CacheSpec = CacheSpec {
            name: "adopted",
            ttl: Ttl::Default,
            params: &[],
            reads: &[Table::UserProfiles],
        };
        let v = self.db.profiles.load(Ordering::SeqCst);
        serve(&SPEC, req, String::new(), async move || {
            Json(format!("adopted v{v}"))
        })
        .await
    }

    /// Reads the data, then (first run only) waits at the gate before answering.
    #[oai(path = "/slow", method = "get")]
    async fn slow(&self, req: &Request) -> Cached<Json<String>> {
        static SPEC: CacheSpec = CacheSpec {
            name: "nodes/slow",
            ttl: Ttl::Default,
            params: &[],
            reads: &[Table::Nodes],
        };
        let (db, gate, runs) = (self.db.clone(), self.gate.clone(), self.slow_runs.clone());
        serve(&SPEC, req, String::new(), async move || {
            let v = db.nodes.load(Ordering::SeqCst);
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                gate.entered.notify_one();
                gate.release.notified().await;
            }
            Json(format!("slow v{v}"))
        })
        .await
    }

    /// `#[invalidates(nodes, node_tags)]`; `missing=true` answers 404 without writing.
    #[oai(path = "/nodes", method = "post")]
    async fn write_node(
        &self,
        req: &Request,
        missing: Query<Option<bool>>,
    ) -> Invalidated<WriteResult> {
        static SPEC: InvalidateSpec = InvalidateSpec {
            changes: &[Table::Nodes, Table::NodeTags],
        };
        let db = self.db.clone();
        invalidating(&SPEC, req, async move {
            if missing.0 == Some(true) {
                return WriteResult::NotFound;
            }
            WriteResult::Ok(Json(db.nodes.fetch_add(1, Ordering::SeqCst) + 1))
        })
        .await
    }

    /// `#[invalidates(user_profiles)]`.
    #[oai(path = "/profiles", method = "put")]
    async fn write_profile(&self, req: &Request) -> Invalidated<poem::Result<Json<u64>>> {
        static SPEC: InvalidateSpec = InvalidateSpec {
            changes: &[Table::UserProfiles],
        };
        let db = self.db.clone();
        invalidating(&SPEC, req, async move {
            Ok(Json(db.profiles.fetch_add(1, Ordering::SeqCst) + 1))
        })
        .await
    }
}

/// Counts invalidation and error events.
#[derive(Default)]
struct Events {
    invalidated: std::sync::Mutex<Vec<&'static str>>,
    errors: AtomicUsize,
}

impl CacheObserver for Events {
    fn invalidated(&self, name: &'static str) {
        self.invalidated.lock().unwrap().push(name);
    }
    fn error(&self, _name: &'static str) {
        self.errors.fetch_add(1, Ordering::SeqCst);
    }
}

struct Harness {
    app: Arc<BoxEndpoint<'static, Response>>,
    gate: Arc<Gate>,
    slow_runs: Arc<AtomicUsize>,
    events: Arc<Events>,
    cache: ResponseCache,
}

fn harness(server: &RedisServer) -> Harness {
    let backend = RedisCache::new(RedisOptions {
        timeout: TIMEOUT,
        ..RedisOptions::local(server.port())
    })
    .unwrap();
    let events = Arc::new(Events::default());
    let cache = ResponseCache::new(
        Arc::new(backend),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
    .with_observer(events.clone());
    let api = Api {
        db: Arc::default(),
        gate: Arc::default(),
        slow_runs: Arc::default(),
    };
    let (gate, slow_runs) = (api.gate.clone(), api.slow_runs.clone());
    let app = Route::new()
        .nest("/", OpenApiService::new(api, "t", "1"))
        .data(cache.clone())
        .map_to_response()
        .boxed();
    Harness {
        app: Arc::new(app),
        gate,
        slow_runs,
        events,
        cache,
    }
}

#[derive(Debug)]
struct Got {
    status: StatusCode,
    x_cache: String,
    body: String,
}

async fn send(app: &BoxEndpoint<'static, Response>, method: Method, uri: &str) -> Got {
    let req = Request::builder()
        .method(method)
        .uri(uri.parse().unwrap())
        .header("content-type", "application/json")
        .header("if-none-match", "*")
        .finish();
    let resp = app.get_response(req).await;
    let x_cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = resp.status();
    let body = String::from_utf8(resp.into_body().into_vec().await.unwrap()).unwrap();
    Got {
        status,
        x_cache,
        body,
    }
}

/// A GET without `If-None-Match` (the harness's `send` adds `*` to prove writes ignore it).
async fn get(app: &BoxEndpoint<'static, Response>, uri: &str) -> Got {
    let resp = app
        .get_response(Request::builder().uri(uri.parse().unwrap()).finish())
        .await;
    let x_cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = resp.status();
    let body = String::from_utf8(resp.into_body().into_vec().await.unwrap()).unwrap();
    Got {
        status,
        x_cache,
        body,
    }
}

async fn assert_cached(app: &BoxEndpoint<'static, Response>, uri: &str, body: &str) {
    let first = get(app, uri).await;
    assert_eq!((first.status, first.body.as_str()), (StatusCode::OK, body));
    let again = get(app, uri).await;
    assert_eq!(again.x_cache, "HIT", "{uri}: {again:?}");
    assert_eq!(again.body, body);
}

#[tokio::test]
async fn a_write_invalidates_the_entries_that_read_its_tables_only() {
    let server = RedisServer::start();
    let h = harness(&server);
    let app = &*h.app;
    assert_cached(app, "/nodes?page=1", "\"nodes v0 page Some(1)\"").await;
    assert_cached(app, "/nodes", "\"nodes v0 page None\"").await;
    assert_cached(app, "/dashboard/stats", "\"stats v0\"").await;
    assert_cached(app, "/adopted", "\"adopted v0\"").await;

    // A write answering 404 wrote nothing and invalidates nothing.
    let failed = send(app, Method::POST, "/nodes?missing=true").await;
    assert_eq!(failed.status, StatusCode::NOT_FOUND);
    assert_eq!(get(app, "/nodes?page=1").await.x_cache, "HIT");
    assert!(h.events.invalidated.lock().unwrap().is_empty());

    // A write is never cached, coalesced or answered 304 (`If-None-Match: *` is sent).
    let write = send(app, Method::POST, "/nodes").await;
    assert_eq!((write.status, write.body.as_str()), (StatusCode::OK, "1"));
    assert_eq!(write.x_cache, "", "writes carry no cache headers");
    assert_eq!(
        *h.events.invalidated.lock().unwrap(),
        ["nodes", "node_tags"]
    );

    // Every key of every response that reads `nodes` is a MISS with the new data...
    for (uri, body) in [
        ("/nodes?page=1", "\"nodes v1 page Some(1)\""),
        ("/nodes", "\"nodes v1 page None\""),
        ("/dashboard/stats", "\"stats v1\""),
    ] {
        let got = get(app, uri).await;
        assert_eq!((got.x_cache.as_str(), got.body.as_str()), ("MISS", body));
        assert_eq!(get(app, uri).await.x_cache, "HIT", "{uri} is cached again");
    }
    // ... while one that reads no table the write changed stays cached.
    assert_eq!(get(app, "/adopted").await.x_cache, "HIT");

    // `adopted` reads `user_profiles`: a profile write invalidates it, and not the nodes
    // entries.
    assert_eq!(
        send(app, Method::PUT, "/profiles").await.status,
        StatusCode::OK
    );
    let got = get(app, "/adopted").await;
    assert_eq!(
        (got.x_cache.as_str(), got.body.as_str()),
        ("MISS", "\"adopted v1\"")
    );
    assert_eq!(get(app, "/nodes").await.x_cache, "HIT");
    assert_eq!(h.events.errors.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_slow_miss_started_before_a_write_is_never_served_after_it() {
    let server = RedisServer::start();
    let h = harness(&server);

    // A reads the generations and the data, then stalls inside its handler.
    let slow = {
        let app = h.app.clone();
        tokio::spawn(async move { get(&app, "/slow").await })
    };
    h.gate.entered.notified().await;

    // The write commits and bumps `nodes` (which `nodes/slow` reads) while A is in flight.
    assert_eq!(
        send(&h.app, Method::POST, "/nodes").await.status,
        StatusCode::OK
    );

    // A request that starts after the write does not join A's flight: it runs the handler
    // itself and sees the new data.
    let after = get(&h.app, "/slow").await;
    assert_eq!(after.body, "\"slow v1\"");
    assert_eq!(h.slow_runs.load(Ordering::SeqCst), 2);

    // A finishes and stores its pre-write response (under the old generation) last.
    h.gate.release.notify_one();
    let old = slow.await.unwrap();
    assert_eq!(
        (old.x_cache.as_str(), old.body.as_str()),
        ("MISS", "\"slow v0\"")
    );

    // A's entry is in Redis, but its generation is old: never served.
    let mut c = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let stored: Vec<u8> = redis::cmd("GET")
        .arg("hub:nodes/slow::")
        .query_async(&mut c)
        .await
        .unwrap();
    let envelope = Envelope::decode(&stored).expect("A's entry");
    assert_eq!(envelope.body, &b"\"slow v0\""[..]);
    assert_eq!(envelope.generations, [0], "read before the write");
    for _ in 0..3 {
        let got = get(&h.app, "/slow").await;
        assert_eq!(got.body, "\"slow v1\"", "{got:?}");
    }
    assert_eq!(get(&h.app, "/slow").await.x_cache, "HIT");
}

/// Total `calls` per command in `INFO commandstats`, without the INFO/CONFIG calls of the
/// measurement itself.
async fn command_calls(c: &mut redis::aio::MultiplexedConnection) -> Vec<(String, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .unwrap();
    let mut calls: Vec<(String, u64)> = info
        .lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| {
            let (cmd, rest) = l.split_once(':')?;
            let n = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((cmd.to_owned(), n))
        })
        .filter(|(cmd, _)| !cmd.starts_with("info") && !cmd.starts_with("config"))
        .collect();
    calls.sort();
    calls
}

/// Commands one write issues after `keys` entries of `nodes` were stored.
async fn write_commands(keys: u32) -> Vec<(String, u64)> {
    let server = RedisServer::start();
    let h = harness(&server);
    let mut c = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // Valid entries (current generations [0]) for `keys` pages, written in bulk.
    let mut pipe = redis::pipe();
    for page in 0..keys {
        let query = format!("page={page}");
        let key = format!(
            "hub:{}",
            build_key("nodes", "", &query, |_| None, &[KeyParam::first("page")])
        );
        let env = Envelope::new(200, "application/json", vec![0], b"\"old\"".to_vec());
        pipe.cmd("SET").arg(key).arg(env.encode().unwrap()).ignore();
    }
    let () = pipe.query_async(&mut c).await.unwrap();
    let dbsize: u64 = redis::cmd("DBSIZE").query_async(&mut c).await.unwrap();
    assert_eq!(dbsize, u64::from(keys));
    let probe = format!("/nodes?page={}", keys / 2);
    assert_eq!(
        get(&h.app, &probe).await.x_cache,
        "HIT",
        "the entries are valid"
    );

    let () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        send(&h.app, Method::POST, "/nodes").await.status,
        StatusCode::OK
    );
    let calls = command_calls(&mut c).await;

    let got = get(&h.app, &probe).await;
    assert_eq!(got.x_cache, "MISS", "every stored page is invalidated");
    assert_eq!(h.cache.backend().kind(), "redis");
    calls
}

#[tokio::test]
async fn invalidation_cost_does_not_grow_with_the_number_of_cached_keys() {
    let few = write_commands(10).await;
    let many = write_commands(10_000).await;
    // One INCR per changed table (`nodes`, `node_tags`), nothing that scans or deletes.
    assert_eq!(many, [("incr".to_owned(), 2)]);
    assert_eq!(few, many);
}

#[tokio::test]
async fn redis_down_a_write_still_succeeds_within_the_bound() {
    let mut server = RedisServer::start();
    let h = harness(&server);
    assert_cached(&h.app, "/nodes", "\"nodes v0 page None\"").await;
    server.kill();

    for i in 1..=6u64 {
        let start = Instant::now();
        let write = send(&h.app, Method::POST, "/nodes").await;
        let took = start.elapsed();
        // The write's response is exactly what it would be without a cache.
        assert_eq!((write.status, write.body), (StatusCode::OK, i.to_string()));
        assert!(took <= TIMEOUT + SLACK, "write #{i} took {took:?}");
    }
    // Each failed bump is a counted error (per table), never an invalidation event; once the
    // breaker is open the bump is skipped without I/O.
    assert!(h.events.invalidated.lock().unwrap().is_empty());
    assert_eq!(h.events.errors.load(Ordering::SeqCst), 2 * 6);
    let start = Instant::now();
    assert!(!h.cache.tables_changed(&[Table::Nodes]).await);
    assert!(
        start.elapsed() < Duration::from_millis(20),
        "breaker open: no waiting"
    );
    // Reads still answer (bypass) with the written data.
    let read = get(&h.app, "/nodes").await;
    assert_eq!(
        (read.status, read.body.as_str()),
        (StatusCode::OK, "\"nodes v6 page None\"")
    );
}
