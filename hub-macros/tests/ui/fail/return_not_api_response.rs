use hub_macros::{cached, cached_api};
use poem_openapi::OpenApi;

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/count", method = "get")]
    #[cached(name = "count")]
    async fn count(&self) -> u32 {
        1
    }
}

fn main() {}
