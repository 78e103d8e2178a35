//! Every `ttl` form: the default, the dashboard's, seconds (and `name` after `ttl`).

use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/default", method = "get")]
    #[cached(name = "nodes", ttl = default)]
    async fn default_ttl(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/dashboard", method = "get")]
    #[cached(name = "dashboard/stats", ttl = dashboard)]
    async fn dashboard_ttl(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/seconds", method = "get")]
    #[cached(ttl = 300, name = "seconds")]
    async fn seconds_ttl(&self) -> Json<u32> {
        Json(1)
    }
}

#[test]
fn expands_and_runs() {
    crate::documented_spec(Api);
}
