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
    /// Widgets.
    ///
    /// Read from nodes and their owners' profiles: a profile write must drop these entries.
    #[oai(path = "/widgets", method = "get")]
    #[cached(name = "widgets", reads = [nodes, user_profiles])]
    async fn widgets(&self) -> Json<u32> {
        Json(1)
    }

    /// Create a widget.
    #[oai(path = "/widgets", method = "post")]
    #[invalidates(nodes, node_tags)]
    async fn create(&self, body: Json<u32>) -> poem::Result<Json<u32>> {
        Ok(Json(body.0))
    }

    #[oai(path = "/widgets/:id", method = "delete", method = "put")]
    #[hub_macros::invalidates(nodes,)]
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
    // The declarations are the descriptions' one source.
    assert_eq!(
        json["paths"]["/widgets"]["get"]["description"],
        "Read from nodes and their owners' profiles: a profile write must drop these entries.\n\n\
         Cached: an answer is reused until one of the tables it reads changes (or its TTL ends). \
         Reads `nodes` and `user_profiles`."
    );
    assert_eq!(
        json["paths"]["/widgets"]["post"]["description"],
        "Changes `nodes` and `node_tags`: cached answers that read them are recomputed."
    );
}
