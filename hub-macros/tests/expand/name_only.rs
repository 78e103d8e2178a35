use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    /// Nodes.
    #[oai(path = "/nodes", method = "get")]
    #[cached(name = "nodes")]
    async fn nodes(&self) -> Json<u32> {
        Json(1)
    }
}

#[test]
fn expands_and_runs() {
    let spec = crate::documented_spec(Api);
    // Without `reads` the answer depends on every table, and the operation says so.
    let json: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(
        json["paths"]["/nodes"]["get"]["description"],
        "Cached: an answer is reused until any table changes (or its TTL ends)."
    );
}
