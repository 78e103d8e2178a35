use hub_macros::cached as c;
use hub_macros::cached_api;
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    #[c(name = "nodes")]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
