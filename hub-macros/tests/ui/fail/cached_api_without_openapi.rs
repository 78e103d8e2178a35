use hub_macros::{cached, cached_api};
use poem_openapi::payload::Json;

struct Api;

#[cached_api]
impl Api {
    #[cached(name = "nodes")]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
