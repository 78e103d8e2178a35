use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

fn role_key(_req: &poem::Request) -> &'static str {
    "role=anonymous"
}

#[cached_api]
#[OpenApi]
impl Api {
    /// Dashboard statistics.
    #[oai(path = "/dashboard/stats", method = "get")]
    #[cached(name = "dashboard/stats", ttl = dashboard, key = role_key)]
    async fn stats(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/dashboard/activity", method = "get")]
    #[cached(key = role_key, ttl = 15, name = "dashboard/activity")]
    async fn activity(&self) -> Json<u32> {
        Json(2)
    }
}

#[test]
fn expands_and_runs() {
    crate::documented_spec(Api);
}
