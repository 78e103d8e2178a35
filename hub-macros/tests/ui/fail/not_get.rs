use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "post")]
    #[cached(name = "nodes")]
    async fn create(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/nodes/:id", method = "get", method = "delete")]
    #[cached(name = "node")]
    async fn get_or_delete(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
