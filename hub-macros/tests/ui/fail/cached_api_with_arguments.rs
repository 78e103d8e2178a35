use hub_macros::cached_api;
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api(ttl = 5)]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
