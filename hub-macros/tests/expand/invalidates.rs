use hub_macros::{cached, cached_api, invalidates};
use poem::Request;
use poem_openapi::{ApiResponse, OpenApi, OpenApiService, param::Path, payload::Json};

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
    /// No such node.
    #[oai(status = 404)]
    NotFound,
}

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    /// Depends on profiles too: a profile write must drop these entries.
    #[oai(path = "/widgets", method = "get")]
    #[cached(name = "widgets", depends = ["profiles", "dashboard/stats"])]
    async fn widgets(&self) -> Json<u32> {
        Json(1)
    }

    /// `widgets` is this impl's own name; the others are in `hub_core::cache::names::KNOWN`.
    #[oai(path = "/widgets", method = "post")]
    #[invalidates("widgets", "nodes", "dashboard")]
    async fn create(&self, body: Json<u32>) -> poem::Result<Json<u32>> {
        Ok(Json(body.0))
    }

    #[oai(path = "/widgets/:id", method = "delete", method = "put")]
    #[hub_macros::invalidates("widgets",)]
    async fn delete(&self, id: Path<u32>, req: &Request) -> Deleted {
        let _ = req.uri();
        if id.0 == 0 { Deleted::NotFound } else { Deleted::NoContent }
    }
}

#[test]
fn expands_and_runs() {
    let spec = OpenApiService::new(Api, "test", "1").spec();
    assert!(!spec.contains("__hub"), "{spec}");
    // Writes keep their documented responses and get no cache headers.
    let json: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let delete = &json["paths"]["/widgets/{id}"]["delete"]["responses"];
    assert!(delete["204"].is_object() && delete["404"].is_object(), "{delete}");
    assert!(delete["204"].get("headers").is_none(), "{delete}");
    assert!(json["paths"]["/widgets"]["post"]["responses"]["200"].is_object());
}
