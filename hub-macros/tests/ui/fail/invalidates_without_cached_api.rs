use hub_macros::invalidates;
use poem_openapi::{OpenApi, payload::Json};

struct Api;

#[OpenApi]
impl Api {
    #[oai(path = "/nodes", method = "post")]
    #[invalidates(nodes)]
    async fn create(&self) -> Json<u32> {
        Json(1)
    }
}

fn main() {}
