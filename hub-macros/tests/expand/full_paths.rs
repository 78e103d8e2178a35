//! Fully qualified attribute paths, `#[OpenApi(...)]` with arguments, and uncached
//! operations (GET and POST) next to cached ones.

use poem_openapi::{OpenApiService, payload::Json};

struct Api;

#[hub_macros::cached_api]
#[poem_openapi::OpenApi(prefix_path = "/api/v1")]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    #[hub_macros::cached(name = "nodes", ttl = 60)]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/nodes/:id", method = "get")]
    async fn node(&self, id: poem_openapi::param::Path<u32>) -> Json<u32> {
        Json(id.0)
    }

    #[oai(path = "/nodes", method = "post")]
    async fn create(&self, body: Json<u32>) -> Json<u32> {
        body
    }

    fn helper(&self) -> u32 {
        3
    }
}

#[test]
fn expands_and_runs() {
    let spec = OpenApiService::new(Api, "test", "1").spec();
    assert!(spec.contains("/api/v1/nodes/{id}"), "{spec}");
    // Exactly one cached operation: X-Cache on its 200 and on its 304.
    assert_eq!(spec.matches("X-Cache").count(), 2, "{spec}");
    assert_eq!(spec.matches("\"304\"").count(), 1, "{spec}");
    assert_eq!(Api.helper(), 3);
}
