use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

fn by_id(id: u32) -> String {
    id.to_string()
}

struct NoDisplay;

fn not_display(_req: &poem::Request) -> NoDisplay {
    NoDisplay
}

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes", key = by_id)]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/stats", method = "get")]
    #[cached(name = "stats", key = not_display)]
    async fn stats(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
