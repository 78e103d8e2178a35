use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

fn role_key(req: &poem::Request) -> String {
    format!("role={}", req.header("x-user-roles").unwrap_or("anonymous"))
}

mod keys {
    pub(super) fn by_host(req: &poem::Request) -> &'static str {
        if req.uri().host().is_some() {
            "host"
        } else {
            "nohost"
        }
    }
}

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/messages", method = "get")]
    #[cached(name = "messages", key = role_key)]
    async fn messages(&self) -> Json<u32> {
        Json(1)
    }

    #[oai(path = "/channels", method = "get")]
    #[cached(name = "channels", key = keys::by_host)]
    async fn channels(&self) -> Json<u32> {
        Json(2)
    }
}

#[test]
fn expands_and_runs() {
    crate::documented_spec(Api);
}
