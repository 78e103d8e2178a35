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

    #[oai(path = "/nodes", method = "post")]
    #[invalidates(nodes, user_profiles, nodes)]
    async fn create(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
