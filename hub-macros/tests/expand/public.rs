//! `public`: a non-JSON body keyed by its path alone, sent with `Cache-Control: public,
//! max-age=<ttl>` on 200 and 304 answers, and documented so.

use hub_core::cache::runtime::{CachedApi, ResponseCache};
use hub_macros::{cached, cached_api};
use poem::http::StatusCode;
use poem::test::TestClient;
use poem::{EndpointExt, Route};
use poem_openapi::param::Path;
use poem_openapi::payload::PlainText;
use poem_openapi::{OpenApi, OpenApiService};
use std::sync::Arc;
use std::time::Duration;

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/feeds/:idx", method = "get")]
    #[cached(name = "feeds/channel", ttl = feeds, public)]
    async fn channel(&self, idx: Path<u8>) -> PlainText<String> {
        PlainText(format!("<feed idx=\"{}\"/>", idx.0))
    }
}

#[tokio::test]
async fn expands_and_runs() {
    assert_eq!(<Api as CachedApi>::CACHE_NAMES, ["feeds/channel"]);
    let spec = crate::documented_spec(Api);
    assert!(spec.contains("public, max-age=<seconds>"), "{spec}");
    assert!(!spec.contains("private, no-cache"), "{spec}");

    let cache = ResponseCache::new(
        Arc::new(hub_core::cache::NullCache),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
    .with_ttl_feeds(Duration::from_secs(120));
    let app = Route::new()
        .nest("/", OpenApiService::new(Api, "t", "1"))
        .data(cache);
    let client = TestClient::new(app);
    let first = client.get("/feeds/7").send().await;
    first.assert_status_is_ok();
    first.assert_header("cache-control", "public, max-age=120");
    first.assert_content_type("text/plain; charset=utf-8");
    let etag = first.0.headers()["etag"].to_str().unwrap().to_owned();
    first.assert_text("<feed idx=\"7\"/>").await;

    let again = client
        .get("/feeds/7")
        .header("if-none-match", &etag)
        .send()
        .await;
    again.assert_status(StatusCode::NOT_MODIFIED);
    again.assert_header("cache-control", "public, max-age=120");
    again.assert_header("etag", etag);
}
