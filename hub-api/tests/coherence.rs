//! Coherence of the cache with the data (docs/caching.md, "Freshness by data"): after any
//! sequence of writes, every cached answer equals a fresh computation of the same request.
//!
//! Two apps over one SQLite file: one with a real Redis cache (entries stored under the
//! generations of the tables each read declares, bumped by the tables each write declares),
//! one without any cache, built anew for each comparison so that nothing it keeps can be old.
//! Every cached read (each cached operation of the OpenAPI document, each role, and each
//! identity that changes its answer) is compared after every write of a seeded random
//! sequence of all the write operations. A read that declares
//! too few tables, or a write too few, serves an answer the data no longer gives: a mismatch
//! names the request and the writes before it.

use crate::common;
use crate::writes_support;

use common::*;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use serde_json::json;
use writes_support::*;

/// Adopted by op-north in the fixture.
const ALPHA: &str = "a1fa000000000000000000000000000000000000000000000000000000000000";
/// Adopted by mem-south.
const BRAVO: &str = "b2b0000000000000000000000000000000000000000000000000000000000000";
/// Not adopted.
const CHARLIE: &str = "c3c0000000000000000000000000000000000000000000000000000000000000";

/// Who reads: no identity, and each role with a user of the fixture (X-User-Id, X-User-Roles).
const CALLERS: [(&str, &str); 4] = [
    ("", ""),
    ("mem-south", "member"),
    ("op-north", "operator,member"),
    ("pw-admin", "admin,member"),
];

/// Filters whose answers other tables decide, compared besides every cached operation's
/// bare path (found in the OpenAPI document: [`cached_reads`]).
const FILTERED_READS: &[&str] = &[
    "/api/v1/nodes?search=alpha",
    "/api/v1/nodes?adopted_by=op-north",
    "/api/v1/advertisements?adopted_by=op-north",
    "/api/v1/messages?channel_idx=17",
    "/api/v1/routes?mine=true",
];

/// Values of the path parameters of cached operations: a new parameter name fails the test
/// until it has one here.
async fn path_values(fresh: &TestApp, name: &str) -> Vec<String> {
    match name {
        "route_id" => {
            let routes = fresh.json_as("/api/v1/routes", "admin").await;
            routes["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        }
        // A channel feed: `<channel index>.<format>`.
        "feed" => vec!["17.xml".to_string(), "17.atom".to_string()],
        other => panic!("no value for the path parameter `{other}`: add one to path_values"),
    }
}

/// Status and body of `uri` as `(user, roles)`, with the body as text (feeds are XML).
async fn read(
    app: &TestApp,
    uri: &str,
    (user, roles): (&str, &str),
) -> (StatusCode, String, String) {
    let mut req = app.client.get(uri);
    if !user.is_empty() {
        req = req.header("X-User-Id", user).header("X-User-Roles", roles);
    }
    let resp = req.send().await;
    let status = resp.0.status();
    let x_cache = resp
        .0
        .headers()
        .get("x-cache")
        .map_or(String::new(), |v| v.to_str().unwrap().to_string());
    let body = resp.0.into_body().into_string().await.unwrap();
    (status, x_cache, body)
}

/// One write operation of the API, chosen by `pick`, with a valid body for the fixture.
async fn write(app: &TestApp, pick: u64, step: usize) -> String {
    fn op(w: Write<'_>) -> Write<'_> {
        w.user("op-north", "operator,member")
    }
    fn admin(w: Write<'_>) -> Write<'_> {
        w.user("pw-admin", "admin,member")
    }
    let route_id = first_route(app).await;
    let (label, answer) = match pick % 12 {
        0 => (
            "add a name tag to alpha",
            op(post(app, &format!("/api/v1/nodes/{ALPHA}/tags")))
                .json(json!({"key": format!("name{}", step % 2), "value": format!("Alpha {step}")}))
                .send()
                .await,
        ),
        1 => (
            "retag alpha's name",
            admin(put(app, &format!("/api/v1/nodes/{ALPHA}/tags/name")))
                .json(json!({"value": format!("Renamed {step}")}))
                .send()
                .await,
        ),
        2 => (
            "delete bravo's name tag",
            admin(delete(app, &format!("/api/v1/nodes/{BRAVO}/tags/name")))
                .send()
                .await,
        ),
        3 => (
            "create a community channel",
            admin(post(app, "/api/v1/channels"))
                .json(json!({
                    "name": format!("Chan {step}"),
                    "key_hex": format!("{:032x}", 0xc0ffee_u64 + step as u64),
                    "visibility": "community",
                }))
                .send()
                .await,
        ),
        4 => {
            let channels = app.json_as("/api/v1/channels", "admin").await;
            let id = channels["items"]
                .as_array()
                .and_then(|items| items.iter().find_map(|c| c["id"].as_str()))
                .unwrap_or("none")
                .to_string();
            let visibility = ["admin", "member", "community"][step % 3];
            (
                "change a channel's visibility",
                admin(put(app, &format!("/api/v1/channels/{id}")))
                    .json(json!({"visibility": visibility}))
                    .send()
                    .await,
            )
        }
        5 => (
            "adopt charlie",
            op(post(app, "/api/v1/adoptions"))
                .json(json!({"public_key": CHARLIE}))
                .send()
                .await,
        ),
        6 => (
            "release charlie",
            op(delete(app, &format!("/api/v1/adoptions/{CHARLIE}")))
                .send()
                .await,
        ),
        7 => {
            let me = get(app, "/api/v1/user/profile/me")
                .user("op-north", "operator,member")
                .send()
                .await;
            let id = me.2["id"].as_str().unwrap_or("none").to_string();
            (
                "rename op-north's profile",
                op(put(app, &format!("/api/v1/user/profile/{id}")))
                    .json(json!({"name": format!("North {step}")}))
                    .send()
                    .await,
            )
        }
        8 => (
            "sync new roles from X-User-Roles",
            get(app, "/api/v1/user/profile/me")
                .user("mem-south", ["member", "member,operator"][step % 2])
                .send()
                .await,
        ),
        9 => {
            let visibility = ["community", "member"][step % 2];
            (
            "create a route",
            op(post(app, "/api/v1/routes"))
                .json(json!({
                    "from_label": format!("From {step}"),
                    "to_label": "To",
                    "visibility": visibility,
                    "node_public_keys": [ALPHA, BRAVO],
                    "observer_public_keys": [],
                }))
                .send()
                .await,
        )
        }
        10 => (
            "update a route",
            admin(put(app, &format!("/api/v1/routes/{route_id}")))
                .json(json!({"description": format!("step {step}"), "packet_count_threshold": 1 + step % 4}))
                .send()
                .await,
        ),
        _ => (
            "delete a route",
            admin(delete(app, &format!("/api/v1/routes/{route_id}")))
                .send()
                .await,
        ),
    };
    format!("{label}: {}", answer.0)
}

/// Some route's id, or a placeholder (the write then answers 404, which changes nothing).
async fn first_route(app: &TestApp) -> String {
    let routes = app.json_as("/api/v1/routes", "admin").await;
    routes["items"]
        .as_array()
        .and_then(|items| items.first())
        .and_then(|r| r["id"].as_str())
        .unwrap_or("00000000-0000-0000-0000-000000000000")
        .to_string()
}

/// Every read to compare: the GET operations the OpenAPI document marks cached (their 200
/// answer documents `X-Cache`), with every value of their path parameters, and
/// [`FILTERED_READS`]. A cached endpoint added to the app is compared without being listed.
async fn cached_reads(fresh: &TestApp) -> Vec<String> {
    let spec = fresh.json("/api/openapi.json").await;
    let mut uris = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        let headers = &operations["get"]["responses"]["200"]["headers"];
        let cached = headers
            .as_object()
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("x-cache")));
        if !cached {
            continue;
        }
        let mut filled = vec![path.clone()];
        while let Some(open) = filled[0].find('{') {
            let close = filled[0][open..].find('}').unwrap() + open;
            let name = filled[0][open + 1..close].to_string();
            let values = path_values(fresh, &name).await;
            let placeholder = format!("{{{name}}}");
            filled = filled
                .iter()
                .flat_map(|uri| values.iter().map(|v| uri.replacen(&placeholder, v, 1)))
                .collect();
            if filled.is_empty() {
                break;
            }
        }
        uris.extend(filled);
    }
    assert!(
        uris.len() >= 23,
        "only {} cached reads found: {uris:?}",
        uris.len()
    );
    uris.extend(FILTERED_READS.iter().map(|u| u.to_string()));
    uris
}

/// A small deterministic generator: the same seed gives the same sequence of writes.
fn next(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

#[tokio::test]
async fn every_cached_answer_equals_a_fresh_computation_after_random_writes() {
    let redis = RedisServer::start();
    let cached = fixture_app_cached(redis_response_cache(redis.port())).await;
    let mut seed = 0x5eed_u64;
    let mut history: Vec<String> = Vec::new();
    let mut hits = 0;
    for step in 0..24 {
        let fresh = app_over(open_sqlite(&cached.path).await);
        for uri in cached_reads(&fresh).await {
            for caller in CALLERS {
                let got = read(&cached, &uri, caller).await;
                let want = read(&fresh, &uri, caller).await;
                assert_eq!(
                    (got.0, &got.2),
                    (want.0, &want.2),
                    "{uri} as {caller:?} ({}) differs from a fresh computation after: {history:#?}",
                    got.1
                );
                hits += usize::from(got.1 == "HIT");
            }
        }
        history.push(write(&cached, next(&mut seed), step).await);
    }
    // The comparison means something only if answers were served from the cache between
    // writes: entries that no write touched.
    assert!(hits > 500, "only {hits} HITs");
    // Every kind of write ran, and most succeeded.
    let succeeded = history
        .iter()
        .filter(|h| {
            h.ends_with(": 200 OK")
                || h.ends_with(": 201 Created")
                || h.ends_with(": 204 No Content")
        })
        .count();
    assert!(succeeded * 2 > history.len(), "{history:#?}");
}
