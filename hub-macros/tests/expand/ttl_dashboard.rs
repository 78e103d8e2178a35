use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, OpenApiService, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "dashboard/stats", ttl = dashboard)]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }
}

#[test]
fn expands_and_runs() {
    let spec = OpenApiService::new(Api, "test", "1").spec();
    assert!(spec.contains("X-Cache"), "{spec}");
    assert!(!spec.contains("__hub"), "{spec}");
}
