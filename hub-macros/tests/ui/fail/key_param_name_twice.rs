use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, param::{Path, Query}, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/items/:id", method = "get")]
    #[cached(name = "items")]
    async fn item(&self, id: Path<String>, #[oai(name = "id")] other: Query<String>) -> Json<String> {
        Json(format!("{}{}", id.0, other.0))
    }
}

fn main() {}
