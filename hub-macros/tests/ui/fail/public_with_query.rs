use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, param::Query, payload::PlainText};

struct Api;

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/feed.xml", method = "get")]
    #[cached(name = "feed", ttl = feeds, public)]
    async fn feed(&self, limit: Query<Option<u32>>) -> PlainText<String> {
        PlainText(format!("{:?}", limit.0))
    }
}

fn main() {}
