use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes")]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }
}

#[test]
fn expands_and_runs() {
    crate::documented_spec(Api);
}
