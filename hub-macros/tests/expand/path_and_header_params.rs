//! Path parameters enter the key; a header parameter is allowed with a key function, and
//! every API lists its cache names.
use hub_core::cache::runtime::CachedApi;
use hub_macros::{cached, cached_api};
use poem::{EndpointExt, Route, test::TestClient};
use poem_openapi::{
    OpenApi, OpenApiService,
    param::{Header, Path, Query},
    payload::Json,
};

struct Api;

fn by_token(req: &poem::Request) -> String {
    format!("token={}", req.header("x-token").unwrap_or(""))
}

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/items/:id", method = "get")]
    #[cached(name = "items")]
    async fn item(&self, id: Path<String>, tags: Query<Vec<String>>) -> Json<String> {
        Json(format!("{}:{}", id.0, tags.0.join(",")))
    }

    #[oai(path = "/me", method = "get")]
    #[cached(name = "me", key = by_token)]
    async fn me(&self, #[oai(name = "X-Token")] token: Header<String>) -> Json<String> {
        Json(token.0)
    }
}

#[tokio::test]
async fn expands_and_runs() {
    assert_eq!(<Api as CachedApi>::CACHE_NAMES, ["items", "me"]);
    let cache = hub_core::cache::runtime::ResponseCache::new(
        std::sync::Arc::new(hub_core::cache::NullCache),
        std::time::Duration::from_secs(30),
        std::time::Duration::from_secs(30),
    );
    let app = Route::new()
        .nest("/", OpenApiService::new(Api, "t", "1"))
        .data(cache);
    let client = TestClient::new(app);
    for id in ["a", "b"] {
        let resp = client.get(format!("/items/{id}")).send().await;
        resp.assert_status_is_ok();
        resp.assert_json(format!("{id}:")).await;
    }
}
