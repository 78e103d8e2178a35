use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::PlainText};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/feed.xml", method = "get")]
    #[cached(name = "feed", public = true)]
    async fn feed(&self) -> PlainText<String> {
        PlainText(String::new())
    }
}

fn main() {}
