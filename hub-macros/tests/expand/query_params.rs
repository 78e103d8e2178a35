use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

use poem_openapi::param::{Path, Query};

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/nodes/:prefix", method = "get")]
    #[cached(name = "nodes")]
    async fn nodes(
        &self,
        prefix: Path<String>,
        search: Query<Option<String>>,
        /// Advertisement type.
        #[oai(name = "type")]
        kind: Query<Option<String>>,
        r#sort: poem_openapi::param::Query<Option<String>>,
        #[oai(default = "default_limit", validator(maximum(value = "500")))] limit: Query<u32>,
        Query(observed_by): Query<Vec<String>>,
    ) -> Json<String> {
        Json(format!(
            "{}{:?}{:?}{:?}{}{:?}",
            prefix.0, search.0, kind.0, r#sort.0, limit.0, observed_by
        ))
    }
}

fn default_limit() -> u32 {
    50
}

#[test]
fn expands_and_runs() {
    let spec = crate::documented_spec(Api);
    for name in [
        "\"search\"",
        "\"type\"",
        "\"sort\"",
        "\"limit\"",
        "\"observed_by\"",
    ] {
        assert!(spec.contains(name), "{name} missing from {spec}");
    }
}
