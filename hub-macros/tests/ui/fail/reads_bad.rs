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

    #[oai(path = "/a", method = "get")]
    #[cached(name = "a", reads = [])]
    async fn a(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/b", method = "get")]
    #[cached(name = "b", reads = nodes)]
    async fn b(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/c", method = "get")]
    #[cached(name = "c", reads = [nodes, "nodes", nodes])]
    async fn c(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
