use hub_macros::{cached, cached_api, invalidates};
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

    #[oai(path = "/nodes/adopted", method = "get")]
    #[cached(name = "adopted", reads = [nodes, user_profile])]
    async fn adopted(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
