use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes", key = "role_key")]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/stats", method = "get")]
    #[cached(name = "stats", key = |req: &poem::Request| req.uri().to_string())]
    async fn stats(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
