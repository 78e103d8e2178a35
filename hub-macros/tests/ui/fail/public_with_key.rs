use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::PlainText};

struct Api;

fn role_key(req: &poem::Request) -> String {
    format!("role={}", req.header("x-user-roles").unwrap_or("anonymous"))
}

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/feed.xml", method = "get")]
    #[cached(name = "feed", ttl = feeds, public, key = role_key)]
    async fn feed(&self) -> PlainText<String> {
        PlainText(String::new())
    }
}

fn main() {}
