//! `#[cached_api]` + `#[cached]` end to end: a real `#[OpenApi]` service with the runtime and
//! an in-memory backend. First GET is a MISS, the same GET a HIT with identical bytes; only the
//! declared query parameters (under their public names) and the key function split the cache;
//! errors are passed through and never stored.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_core::cache::runtime::ResponseCache;
use hub_core::cache::{BoxFuture, CacheBackend, CacheError};
use hub_macros::{cached, cached_api};
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem::{EndpointExt, Request, Route};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, OpenApiService};

/// A backend that keeps entries in a map and records the keys it was asked to store.
#[derive(Default)]
struct MemCache {
    entries: Mutex<HashMap<String, Vec<u8>>>,
    set_keys: Mutex<Vec<String>>,
}

impl CacheBackend for MemCache {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        let value = self.entries.lock().unwrap().get(key).cloned();
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_vec());
        self.set_keys.lock().unwrap().push(key.to_owned());
        Box::pin(async { Ok(()) })
    }

    fn invalidate<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        self.entries.lock().unwrap().clear();
        Box::pin(async { Ok(1) })
    }

    fn ping(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

#[derive(Object)]
struct Stats {
    run: u32,
    search: Option<String>,
    kind: Option<String>,
}

fn role_key(req: &Request) -> String {
    format!("role={}", req.header("x-user-roles").unwrap_or("anonymous"))
}

struct Api {
    runs: Arc<AtomicUsize>,
}

#[cached_api]
#[OpenApi]
impl Api {
    /// Statistics; cached per role and per declared query.
    #[oai(path = "/stats", method = "get")]
    #[cached(name = "stats", ttl = dashboard, key = role_key)]
    async fn stats(
        &self,
        search: Query<Option<String>>,
        #[oai(name = "type")] kind: Query<Option<String>>,
    ) -> poem::Result<Json<Stats>> {
        // `?` and `return` inside a cached handler keep their meaning.
        let run = u32::try_from(self.runs.fetch_add(1, Ordering::SeqCst) + 1).map_err(|e| {
            poem::Error::from_string(e.to_string(), StatusCode::INTERNAL_SERVER_ERROR)
        })?;
        if search.0.as_deref() == Some("missing") {
            return Err(poem::Error::from_status(StatusCode::NOT_FOUND));
        }
        Ok(Json(Stats {
            run,
            search: search.0,
            kind: kind.0,
        }))
    }

    /// One item per path; the path parameter must split the cache.
    #[oai(path = "/items/:id", method = "get")]
    #[cached(name = "items")]
    async fn item(&self, id: Path<String>) -> Json<String> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Json(id.0)
    }

    /// Reuses the handler's own request parameter.
    #[oai(path = "/echo", method = "get")]
    #[cached(name = "echo")]
    async fn echo(&self, req: &Request) -> Json<String> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Json(req.uri().path().to_owned())
    }
}

struct Harness {
    client: TestClient<poem::endpoint::BoxEndpoint<'static>>,
    runs: Arc<AtomicUsize>,
    backend: Arc<MemCache>,
}

fn harness() -> Harness {
    let runs = Arc::new(AtomicUsize::new(0));
    let backend = Arc::new(MemCache::default());
    let api = OpenApiService::new(Api { runs: runs.clone() }, "test", "1");
    let cache = ResponseCache::new(
        backend.clone(),
        Duration::from_secs(30),
        Duration::from_secs(30),
    );
    let app = Route::new().nest("/", api).data(cache).boxed();
    Harness {
        client: TestClient::new(app),
        runs,
        backend,
    }
}

async fn body(resp: TestResponse) -> String {
    resp.0.into_body().into_string().await.unwrap()
}

fn x_cache(resp: &TestResponse) -> String {
    resp.0
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn miss_then_hit_with_identical_bytes() {
    let h = harness();
    let first = h.client.get("/stats").query("search", &"a").send().await;
    first.assert_status_is_ok();
    assert_eq!(x_cache(&first), "MISS");
    let first = body(first).await;
    assert!(first.contains("\"run\":1"), "{first}");

    let second = h.client.get("/stats").query("search", &"a").send().await;
    second.assert_status_is_ok();
    assert_eq!(x_cache(&second), "HIT");
    assert_eq!(body(second).await, first);
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_path_is_its_own_entry() {
    let h = harness();
    for (id, cache) in [("a", "MISS"), ("b", "MISS"), ("a", "HIT"), ("b", "HIT")] {
        let resp = h.client.get(format!("/items/{id}")).send().await;
        resp.assert_status_is_ok();
        assert_eq!(x_cache(&resp), cache, "/items/{id}");
        assert_eq!(
            body(resp).await,
            format!("\"{id}\""),
            "/items/{id} served another item"
        );
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 2);
    let keys = h.backend.set_keys.lock().unwrap().clone();
    assert_eq!(keys, ["items::id=a", "items::id=b"]);
}

#[tokio::test]
async fn only_declared_params_and_the_key_split_the_cache() {
    let h = harness();
    let get = |roles: Option<&'static str>, query: &'static [(&'static str, &'static str)]| {
        let mut req = h.client.get("/stats");
        for (k, v) in query {
            req = req.query(*k, v);
        }
        if let Some(roles) = roles {
            req = req.header("x-user-roles", roles);
        }
        req.send()
    };

    assert_eq!(x_cache(&get(None, &[("search", "a")]).await), "MISS");
    // An undeclared parameter does not change the key.
    assert_eq!(
        x_cache(&get(None, &[("search", "a"), ("utm_source", "x")]).await),
        "HIT"
    );
    // A declared parameter under its public name (`type`, not `kind`) does.
    assert_eq!(
        x_cache(&get(None, &[("search", "a"), ("type", "room")]).await),
        "MISS"
    );
    assert_eq!(
        x_cache(&get(None, &[("type", "room"), ("search", "a")]).await),
        "HIT"
    );
    // The key function's variant does too.
    assert_eq!(
        x_cache(&get(Some("admin"), &[("search", "a")]).await),
        "MISS"
    );
    assert_eq!(h.runs.load(Ordering::SeqCst), 3);

    let keys = h.backend.set_keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("stats:")), "{keys:?}");
    assert!(keys.iter().any(|k| k.contains("role=admin")), "{keys:?}");
    assert!(keys.iter().any(|k| k.contains("type=room")), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("utm_source")), "{keys:?}");
}

#[tokio::test]
async fn errors_pass_through_and_are_not_stored() {
    let h = harness();
    for _ in 0..2 {
        let resp = h
            .client
            .get("/stats")
            .query("search", &"missing")
            .send()
            .await;
        resp.assert_status(StatusCode::NOT_FOUND);
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 2);
    assert!(h.backend.set_keys.lock().unwrap().is_empty());
}

#[tokio::test]
async fn reused_request_parameter() {
    let h = harness();
    let first = h.client.get("/echo").send().await;
    assert_eq!(x_cache(&first), "MISS");
    assert_eq!(body(first).await, "\"/echo\"");
    let second = h.client.get("/echo").send().await;
    assert_eq!(x_cache(&second), "HIT");
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
}

#[test]
fn openapi_document_keeps_params_and_schema() {
    let spec = OpenApiService::new(
        Api {
            runs: Arc::default(),
        },
        "test",
        "1",
    )
    .spec();
    assert!(spec.contains("\"type\""), "{spec}");
    assert!(spec.contains("\"search\""), "{spec}");
    assert!(spec.contains("X-Cache"), "{spec}");
    assert!(spec.contains("#/components/schemas/Stats"), "{spec}");
    assert!(!spec.contains("__hub"), "{spec}");
}
