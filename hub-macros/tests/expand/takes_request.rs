use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

use poem::Request;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/a", method = "get")]
    #[cached(name = "a")]
    async fn a(&self, req: &Request) -> Json<String> {
        Json(req.uri().path().to_owned())
    }

    #[oai(path = "/b", method = "get")]
    #[cached(name = "b")]
    async fn b(&self, _: &poem::Request) -> Json<u32> {
        Json(2)
    }

    #[oai(path = "/c", method = "get")]
    #[cached(name = "c", key = role_key)]
    async fn c(&self, _req: &Request) -> Json<u32> {
        Json(3)
    }
}

fn role_key(_req: &Request) -> String {
    String::from("role=member")
}

#[test]
fn expands_and_runs() {
    crate::documented_spec(Api);
}
