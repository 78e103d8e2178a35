use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, param::Header, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/a", method = "get")]
    #[cached(name = "a")]
    async fn a(&self, #[oai(name = "X-Token")] token: Header<String>) -> Json<String> {
        Json(token.0)
    }
}

fn main() {}
