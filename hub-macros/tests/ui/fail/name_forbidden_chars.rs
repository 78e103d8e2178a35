use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/a", method = "get")]
    #[cached(name = "nodes:all")]
    async fn a(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/b", method = "get")]
    #[cached(name = "nodes*")]
    async fn b(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/c", method = "get")]
    #[cached(name = "{nodes}")]
    async fn c(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/d", method = "get")]
    #[cached(name = "my nodes")]
    async fn d(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
