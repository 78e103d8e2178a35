use hub_macros::{cached, cached_api};
use poem_openapi::{OpenApi, payload::Json};

struct Api;

use poem::{Result, http::StatusCode};
use poem_openapi::{Object, param::Query};

#[derive(Object)]
struct Stats {
    total: u32,
}

fn parse(s: &str) -> Result<u32> {
    s.parse()
        .map_err(|_| poem::Error::from_status(StatusCode::UNPROCESSABLE_ENTITY))
}

#[cached_api]
#[OpenApi]
impl Api {
    #[oai(path = "/stats", method = "get")]
    #[cached(name = "stats")]
    async fn stats(&self, n: Query<Option<String>>) -> Result<Json<Stats>> {
        let Some(n) = n.0 else {
            return Err(poem::Error::from_status(StatusCode::BAD_REQUEST));
        };
        let total = parse(&n)?;
        Ok(Json(Stats { total }))
    }

    #[oai(path = "/stats2", method = "get")]
    #[cached(name = "stats2")]
    async fn stats2(&self) -> poem::Result<Json<Stats>> {
        let total = parse("7")?;
        if total == 0 {
            return Ok(Json(Stats { total: 1 }));
        }
        Ok(Json(Stats { total }))
    }
}

#[test]
fn expands_and_runs() {
    crate::documented_spec(Api);
}
